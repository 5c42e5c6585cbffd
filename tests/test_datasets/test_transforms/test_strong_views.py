"""The strong-view ops against the mmpretrain / mmcv ops they replace.

Deterministic parts are compared pixel by pixel (grayscale bit-exact, blur
and jitter for fixed parameters within the stated rounding); the random
parts are compared as distributions over many seeds (two-sample KS at
alpha = 0.001: D <= 1.95 * sqrt(2 / n)) and, since both draw from the same
generators in the same order, seed by seed.
"""
import os.path as osp
import random
import warnings

import cv2
import numpy as np
import pytest
from mmcv.transforms import RandomGrayscale
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope
from mmpretrain.datasets.transforms import ColorJitter, GaussianBlur
from PIL import Image, ImageFilter

import s5_mm  # noqa: F401
from s5_mm.datasets.transforms import (AlbuColorJitter, BoxGaussianBlur,
                                       FastRandomGrayscale)
from s5_mm.datasets.transforms.strong_views import pil_box_kernel

ROOT = osp.join(osp.dirname(__file__), '..', '..', '..')
DATA = osp.join(ROOT, 'tests', 'data', 'unlabeled')
N = 300  # seeds per distribution
KS_CRIT = 1.95 * np.sqrt(2 / N)  # two-sample KS, alpha = 0.001


def _image(name='demo.jpg', size=48):
    img = cv2.imread(osp.join(DATA, name))
    return cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)


def _ks(a, b):
    """Two-sample Kolmogorov-Smirnov statistic."""
    grid = np.sort(np.concatenate([a, b]))
    cdf_a = np.searchsorted(np.sort(a), grid, side='right') / len(a)
    cdf_b = np.searchsorted(np.sort(b), grid, side='right') / len(b)
    return np.abs(cdf_a - cdf_b).max()


def _run(op, img, seed):
    np.random.seed(seed)
    random.seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # mmcv's pillow-backend warning
        return op(dict(img=img.copy()))['img']


def _hue_shift(src, out):
    """Circular mean hue change (turns) over saturated pixels."""
    h0, s0 = cv2.split(cv2.cvtColor(src, cv2.COLOR_BGR2HSV_FULL))[:2]
    h1 = cv2.cvtColor(out, cv2.COLOR_BGR2HSV_FULL)[..., 0]
    angle = (h1.astype(float) - h0) / 256 * 2 * np.pi
    keep = s0 > 60
    return np.arctan2(np.sin(angle[keep]).mean(),
                      np.cos(angle[keep]).mean()) / (2 * np.pi)


def _chroma(img):
    return (img.max(axis=2).astype(float) - img.min(axis=2)).mean()


# per-op statistic of the output that the factor moves, and how far the
# two implementations may differ on it for the same factor (pixel values
# differ by rounding: PIL truncates, OpenCV rounds)
STATS = {
    'brightness': (lambda src, out: out.mean(), 0.01),  # levels
    'contrast': (lambda src, out: out.std(), 0.6),  # levels
    'saturation': (lambda src, out: _chroma(out), 1.2),  # levels
    'hue': (_hue_shift, 0.012),  # turns
}
JITTER = dict(brightness=0.5, contrast=0.5, saturation=0.5, hue=0.25)


@pytest.mark.parametrize('name', list(STATS))
def test_jitter_distribution_per_op(name):
    img = _image('fResident/f001.jpg')
    old, new = ColorJitter(**{name: JITTER[name]}), AlbuColorJitter(
        **{name: JITTER[name]})
    stat, tol = STATS[name]
    # independent seeds: the distributions of the statistic agree
    a = np.array([stat(img, _run(old, img, s)) for s in range(N)])
    b = np.array([stat(img, _run(new, img, s)) for s in range(N, 2 * N)])
    assert _ks(a, b) <= KS_CRIT, name
    # same seeds: the same factor is drawn, the statistic agrees per image
    b_same = np.array([stat(img, _run(new, img, s)) for s in range(N)])
    assert np.abs(a - b_same).max() <= tol, name
    # and the statistic does move with the factor (the test can see it)
    assert np.ptp(a) > 10 * tol


@pytest.mark.parametrize('factor', [0.5, 0.8, 1.3, 1.5])
def test_jitter_fixed_factor_pixels(factor):
    img = _image(size=64)
    for name, bound in (('brightness', 0), ('contrast', 1),
                        ('saturation', 1), ('hue', 9)):
        value = (factor, factor) if name != 'hue' else (
            (factor - 1) / 2, (factor - 1) / 2)
        old = _run(ColorJitter(**{name: value}), img, 0)
        new = _run(AlbuColorJitter(**{name: value}), img, 0)
        diff = np.abs(old.astype(int) - new)
        assert diff.max() <= bound, (name, factor, diff.max())
        assert diff.mean() <= 0.6, (name, factor, diff.mean())


def test_jitter_all_ops_same_seed():
    img = _image()
    old, new = ColorJitter(**JITTER), AlbuColorJitter(**JITTER)
    errors = [
        np.abs(_run(old, img, s).astype(int) - _run(new, img, s)).mean()
        for s in range(100)
    ]
    assert max(errors) < 1.5 and np.mean(errors) < 0.8


def test_jitter_rejects_bad_args():
    with pytest.raises(ValueError, match='brightness'):
        AlbuColorJitter(brightness=-0.1)
    with pytest.raises(TypeError, match='hue'):
        AlbuColorJitter(hue=(0.1, 0.2, 0.3))
    with pytest.raises(ValueError, match='uint8 BGR'):
        AlbuColorJitter(brightness=0.5)(
            dict(img=np.zeros((4, 4), np.uint8), img_path='x.jpg'))


@pytest.mark.parametrize('weights,keep', [((0.114, 0.587, 0.299), True),
                                          ((1., 1., 1.), False),
                                          ((0.2, 0.3, 0.5), True)])
def test_grayscale_bit_exact(weights, keep):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
    img[:16, :16] = np.arange(256, dtype=np.uint8).reshape(16, 16, 1)  # grey
    img[-1] = _image(size=40)[-1]
    old = RandomGrayscale(prob=1., keep_channels=keep, channel_weights=weights)
    new = FastRandomGrayscale(
        prob=1., keep_channels=keep, channel_weights=weights)
    expected = old(dict(img=img.copy()))['img']
    got = new(dict(img=img.copy()))['img']
    assert got.shape == expected.shape and got.dtype == np.uint8
    np.testing.assert_array_equal(got, expected)
    # hand computation of one pixel: truncation of the weighted mean
    b, g, r = (int(v) for v in img[20, 30])
    w = np.array(weights) / sum(weights)
    assert got[20, 30].flat[0] == int(w[0] * b + w[1] * g + w[2] * r)


def test_grayscale_draws_like_mmcv():
    img = _image(size=16)
    kwargs = dict(prob=0.2, keep_channels=True,
                  channel_weights=(0.114, 0.587, 0.299))
    old, new = RandomGrayscale(**kwargs), FastRandomGrayscale(**kwargs)
    applied = []
    for seed in range(N):
        a, b = _run(old, img, seed), _run(new, img, seed)
        np.testing.assert_array_equal(a, b)
        applied.append(bool((b[..., 0] == b[..., 2]).all()))
    rate = np.mean(applied)
    assert abs(rate - 0.2) <= 3 * np.sqrt(0.2 * 0.8 / N)
    with pytest.raises(ValueError, match='channels'):
        FastRandomGrayscale(prob=1., channel_weights=(1, 1))(
            dict(img=img.copy()))


@pytest.mark.parametrize('sigma', [0.1, 0.3, 0.7, 1.0, 1.234, 1.5, 2.0])
def test_blur_fixed_sigma_is_pils(sigma):
    img = _image(size=64)
    expected = np.array(
        Image.fromarray(img).filter(ImageFilter.GaussianBlur(radius=sigma)))
    got = BoxGaussianBlur.blur(img, sigma)
    diff = got.astype(int) - expected
    # PIL rounds in 24-bit fixed point, OpenCV in its own: off by one on a
    # few pixels at most, never systematically
    assert np.abs(diff).max() <= 1
    assert (diff != 0).mean() <= 0.1 and abs(diff.mean()) <= 0.1
    # a sampled Gaussian of that sigma is not PIL's blur at small sigma
    if sigma == 0.3:
        gauss = cv2.GaussianBlur(img, (0, 0), sigma,
                                 borderType=cv2.BORDER_REPLICATE)
        assert np.abs(gauss.astype(int) - expected).mean() > 1


def test_blur_kernel_variance():
    # three passes of the box have variance sigma^2 (Gwosdek et al.)
    for sigma in (0.1, 0.5, 1.0, 2.0):
        kernel = pil_box_kernel(sigma)
        offsets = np.arange(len(kernel)) - len(kernel) // 2
        variance = 3 * (kernel * offsets**2).sum() / kernel.sum()
        assert abs(kernel.sum() - 1) < 1e-6
        assert variance == pytest.approx(sigma**2, rel=1e-4)


def test_blur_draws_like_mmpretrain():
    img = _image(size=32)
    old = GaussianBlur(magnitude_range=(0.1, 2.0), magnitude_level=10,
                       magnitude_std='inf', prob=0.5)
    new = BoxGaussianBlur(sigma_range=(0.1, 2.0), prob=0.5)
    blurred, sharp_a, sharp_b = [], [], []
    for seed in range(N):
        a, b = _run(old, img, seed), _run(new, img, seed)
        assert np.abs(a.astype(int) - b).max() <= 1, seed
        blurred.append(not np.array_equal(b, img))
        sharp_a.append(np.abs(np.diff(a.astype(float), axis=1)).mean())
        sharp_b.append(np.abs(np.diff(b.astype(float), axis=1)).mean())
    assert abs(np.mean(blurred) - 0.5) <= 3 * np.sqrt(0.25 / N)
    np.testing.assert_allclose(sharp_a, sharp_b, atol=0.05)
    with pytest.raises(ValueError, match='sigma_range'):
        BoxGaussianBlur(sigma_range=(0., 1.))


PRESENT_STRONG = [
    dict(type='RandomApply', prob=0.8, transforms=[
        dict(type='mmpretrain.ColorJitter', brightness=0.5, contrast=0.5,
             saturation=0.5, hue=0.25)]),
    dict(type='RandomGrayscale', prob=0.2, keep_channels=True,
         channel_weights=(0.114, 0.587, 0.299)),
    dict(type='mmpretrain.GaussianBlur', magnitude_range=(0.1, 2.0),
         magnitude_level=10, magnitude_std='inf', prob=0.5),
]


def test_config_pipeline_matches_present_pipeline_and_is_silent():
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs', '_base_', 'datasets', 'fixmatch_views.py'))
    types = [t['type'] for t in cfg.strong_pipeline]
    assert types == ['RandomApply', 'FastRandomGrayscale', 'BoxGaussianBlur',
                     'PackSegInputs']
    init_default_scope('mmseg')
    new = Compose(cfg.strong_pipeline[:-1])
    old = Compose(PRESENT_STRONG)
    img = _image()
    errors = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        for seed in range(100):
            np.random.seed(seed)
            random.seed(seed)
            errors.append(
                np.abs(new(dict(img=img.copy()))['img'].astype(int) -
                       _run(old, img, seed)).mean())
    assert max(errors) < 1.5 and np.mean(errors) < 0.5
    # the present pipeline runs inside _run with warnings ignored; the new
    # one warns nothing (mmcv's jitter warns once per image)
    assert [str(w.message) for w in caught] == []
