"""Photometric ops of the strong view (FixMatch / UniMatch / S4P) at OpenCV
speed.

The S4P strong view (``configs/_base_/datasets/fixmatch_views.py``) is
colour jitter (p=0.8), random grayscale (p=0.2) and Gaussian blur (p=0.5).
mmpretrain's ``ColorJitter`` / ``GaussianBlur`` run them through PIL (one
BGR -> RGB copy and one ``ImageEnhance`` pass per sub-op, a box-blur
cascade) and mmcv's ``RandomGrayscale`` in float64 numpy; together they cost
several times the JPEG decode. The transforms below draw their random
parameters exactly like those ops (same generator, same calls, same order,
so one seed gives the same parameters) and apply them with OpenCV kernels:

- :class:`AlbuColorJitter`: albumentations' torchvision-style colour
  functions (OpenCV LUTs / ``cvtColor``), fed RGB like PIL.
- :class:`FastRandomGrayscale`: mmcv's float64 weighted sum, bit-exact,
  through per-channel lookup tables.
- :class:`BoxGaussianBlur`: PIL's three-pass box approximation of the
  Gaussian, as ``cv2.filter2D`` passes.

``docs/s4p.md`` ("Strong views") lists the measured speed and differences.
"""
import os
import random
from numbers import Number
from typing import Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness
from mmseg.registry import TRANSFORMS

Range = Union[float, Sequence[float]]


def _factor_range(value: Range, name: str, center: float,
                  bound: Tuple[float, float]) -> Tuple[float, float]:
    """(min, max) of a jitter factor, as mmpretrain's ``ColorJitter``."""
    if isinstance(value, Number):
        if value < 0:
            raise ValueError(f'AlbuColorJitter: {name}={value} must be '
                             f'non-negative (the factor is drawn from '
                             f'[{center} - {name}, {center} + {name}])')
        value = (center - float(value), center + float(value))
    if not (isinstance(value, (tuple, list)) and len(value) == 2):
        raise TypeError(f'AlbuColorJitter: {name} must be a number or a '
                        f'(min, max) pair, got {value!r}')
    low, high = max(float(value[0]), bound[0]), min(float(value[1]), bound[1])
    if low > high:
        raise ValueError(f'AlbuColorJitter: {name} range {tuple(value)} is '
                         f'empty inside the bound {bound}')
    return low, high


@TRANSFORMS.register_module()
class AlbuColorJitter(BaseTransform):
    """mmpretrain's ``ColorJitter`` run by albumentations' OpenCV kernels.

    The four factors and their order are drawn like
    ``mmpretrain.ColorJitter``: ``np.random.permutation(4)``, then brightness,
    contrast, saturation and hue factors from ``np.random.uniform`` over
    ``[max(0, 1 - x), 1 + x]`` (hue: ``[-x, x]``). They are applied to the
    RGB image (the input is BGR, as loaded by mmcv) with albumentations'
    ``adjust_{brightness,contrast,saturation,hue}_torchvision``: the same
    blends as PIL's ``ImageEnhance`` (grey = 0.299 R + 0.587 G + 0.114 B)
    and the same hue rotation; pixel values differ from PIL's by rounding
    (at most 1 level for brightness / contrast / saturation; hue goes through
    OpenCV's 180-level HSV instead of PIL's 256-level one).

    Required keys: ``img`` (uint8, BGR). Modified keys: ``img``.

    Args:
        brightness (float | Sequence[float]): Jitter of the brightness
            factor, or its (min, max). Defaults to 0.
        contrast (float | Sequence[float]): Same for contrast. Defaults to 0.
        saturation (float | Sequence[float]): Same for saturation.
            Defaults to 0.
        hue (float | Sequence[float]): The hue shift (in turns) is drawn from
            ``[-hue, hue]`` or the given (min, max), inside [-0.5, 0.5].
            Defaults to 0.
    """

    def __init__(self,
                 brightness: Range = 0.,
                 contrast: Range = 0.,
                 saturation: Range = 0.,
                 hue: Range = 0.) -> None:
        self.brightness = _factor_range(brightness, 'brightness', 1.,
                                        (0., float('inf')))
        self.contrast = _factor_range(contrast, 'contrast', 1.,
                                      (0., float('inf')))
        self.saturation = _factor_range(saturation, 'saturation', 1.,
                                        (0., float('inf')))
        self.hue = _factor_range(hue, 'hue', 0., (-0.5, 0.5))
        # albumentations checks PyPI on import unless told not to; that
        # would warn in every dataloader worker of an offline node.
        os.environ.setdefault('NO_ALBUMENTATIONS_UPDATE', '1')
        try:
            from albumentations.augmentations.pixel import functional
        except ImportError as err:
            raise ImportError(
                'AlbuColorJitter needs albumentations (see '
                'requirements/runtime.txt: install it with --no-deps next '
                'to opencv-python)') from err
        self._ops = (functional.adjust_brightness_torchvision,
                     functional.adjust_contrast_torchvision,
                     functional.adjust_saturation_torchvision,
                     functional.adjust_hue_torchvision)
        self._identity = (1., 1., 1., 0.)

    @cache_randomness
    def _rand_params(self) -> Tuple[np.ndarray, list]:
        """Order and factors, drawn like ``mmpretrain.ColorJitter``."""
        order = np.random.permutation(4)
        factors = []
        for (low, high), identity in zip(
            (self.brightness, self.contrast, self.saturation, self.hue),
                self._identity):
            # mmpretrain draws nothing for a range that is the identity
            factors.append(identity if low == high == identity else
                           np.random.uniform(low, high))
        return order, factors

    def transform(self, results: dict) -> dict:
        """Jitter ``results['img']``."""
        img = results['img']
        if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
            raise ValueError(
                f'AlbuColorJitter: needs a uint8 BGR image of shape '
                f'(H, W, 3), got {img.dtype} {img.shape} '
                f'({results.get("img_path", "no img_path")})')
        order, factors = self._rand_params()
        rgb = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        for index in order:
            if factors[index] != self._identity[index]:
                rgb = self._ops[index](rgb, factors[index])
        results['img'] = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(brightness={self.brightness}, '
                f'contrast={self.contrast}, saturation={self.saturation}, '
                f'hue={self.hue})')


@TRANSFORMS.register_module()
class FastRandomGrayscale(BaseTransform):
    """mmcv's ``RandomGrayscale``, bit-exact, through lookup tables.

    With probability ``prob`` (drawn with ``random.random()`` like mmcv) the
    image becomes ``uint8(sum_c w_c * img[..., c])`` with the weights
    normalised to sum 1, computed in float64 in mmcv's order, and is
    repeated over the channels (``keep_channels``) or kept single-channel.
    The products come from 256-entry tables, so the result equals mmcv's
    to the bit at a fraction of its cost.

    Required keys: ``img``. Modified keys: ``img``.

    Args:
        prob (float): Probability of the conversion. Defaults to 0.1.
        keep_channels (bool): Repeat the grey image over the input channels.
            Defaults to False.
        channel_weights (Sequence[float]): Weight of each input channel, in
            the image's channel order (BGR for mmcv-loaded images).
            Defaults to (1., 1., 1.).
    """

    def __init__(self,
                 prob: float = 0.1,
                 keep_channels: bool = False,
                 channel_weights: Sequence[float] = (1., 1., 1.)) -> None:
        if not 0 <= prob <= 1:
            raise ValueError(f'FastRandomGrayscale: prob must be in [0, 1], '
                             f'got {prob}')
        weights = np.asarray(channel_weights, dtype=np.float64)
        if weights.ndim != 1 or not weights.sum() > 0:
            raise ValueError(f'FastRandomGrayscale: channel_weights must be '
                             f'a sequence with a positive sum, got '
                             f'{channel_weights!r}')
        self.prob = prob
        self.keep_channels = keep_channels
        self.channel_weights = tuple(channel_weights)
        normalized = weights / weights.sum()
        levels = np.arange(256, dtype=np.float64)
        self._tables = [w * levels for w in normalized]

    @cache_randomness
    def _random_prob(self) -> float:
        return random.random()

    def transform(self, results: dict) -> dict:
        """Convert ``results['img']`` to grey with probability ``prob``."""
        img = results['img']
        if img.ndim == 2 or img.shape[2] == 1:
            self._random_prob()  # mmcv draws even for a single channel
            return results
        if img.shape[2] != len(self._tables):
            raise ValueError(
                f'FastRandomGrayscale: channel_weights has '
                f'{len(self._tables)} entries but the image has '
                f'{img.shape[2]} channels '
                f'({results.get("img_path", "no img_path")})')
        if self._random_prob() >= self.prob:
            return results
        if img.dtype != np.uint8:
            raise ValueError(f'FastRandomGrayscale: needs a uint8 image, got '
                             f'{img.dtype}')
        grey = self._tables[0][img[..., 0]]
        for table, channel in zip(self._tables[1:], range(1, img.shape[2])):
            grey += table[img[..., channel]]
        grey = grey.astype(np.uint8)
        results['img'] = (cv2.merge([grey] * img.shape[2])
                          if self.keep_channels else grey)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(prob={self.prob}, '
                f'keep_channels={self.keep_channels}, '
                f'channel_weights={self.channel_weights})')


def pil_box_kernel(sigma: float) -> np.ndarray:
    """One pass of PIL's ``GaussianBlur(radius=sigma)`` as a 1-D kernel.

    PIL blurs with three passes of an "extended" box of fractional radius
    ``R`` (Gwosdek et al. 2011) whose variance sums to ``sigma ** 2``; the
    ``2 * int(R) + 1`` inner taps weigh ``ww`` and the two outer ones ``fw``
    in 24-bit fixed point. This mirrors ``_gaussian_blur_radius`` and
    ``ImagingHorizontalBoxBlur`` in Pillow's ``libImaging/BoxBlur.c``, in
    C ``float`` precision.

    Args:
        sigma (float): Standard deviation (PIL's ``radius``), >= 0.

    Returns:
        np.ndarray: float64 kernel of length ``2 * int(R) + 3``, sum ~1.
    """
    f32 = np.float32
    sigma2 = f32(f32(sigma) * f32(sigma) / f32(3))
    length = f32(np.sqrt(12.0 * float(sigma2) + 1.0))
    whole = f32(np.floor((float(length) - 1.0) / 2.0))
    frac = f32((2 * whole + 1) * (whole * (whole + 1) - 3 * sigma2))
    frac = f32(frac / f32(6 * (sigma2 - (whole + 1) * (whole + 1))))
    radius = f32(whole + frac)
    inner = int((1 << 24) / (float(radius) * 2 + 1))
    outer = ((1 << 24) - (2 * int(radius) + 1) * inner) // 2
    taps = [outer] + [inner] * (2 * int(radius) + 1) + [outer]
    return np.asarray(taps, dtype=np.float64) / (1 << 24)


@TRANSFORMS.register_module()
class BoxGaussianBlur(BaseTransform):
    """mmpretrain's ``GaussianBlur`` (PIL's box-cascade Gaussian) on OpenCV.

    Draws like ``mmpretrain.GaussianBlur(magnitude_range=sigma_range,
    magnitude_level=10, magnitude_std='inf')``: the blur is skipped when
    ``np.random.rand() > prob``, else sigma comes from
    ``np.random.uniform(*sigma_range)`` (the same draw, so the same sigma for
    the same seed). The blur is PIL's: three horizontal then three vertical
    passes of :func:`pil_box_kernel`, each rounded to uint8, borders
    replicated, run as ``cv2.filter2D`` passes. A sampled Gaussian
    (``cv2.GaussianBlur``) is not used: below sigma ~0.7 its variance falls
    far short of sigma^2 (at sigma 0.3 it blurs about ten times less).

    Required keys: ``img`` (uint8). Modified keys: ``img``.

    Args:
        sigma_range (Sequence[float]): (min, max) of the standard deviation
            in pixels. Defaults to (0.1, 2.0).
        prob (float): Probability of blurring. Defaults to 0.5.
    """

    def __init__(self,
                 sigma_range: Sequence[float] = (0.1, 2.0),
                 prob: float = 0.5) -> None:
        if (len(sigma_range) != 2
                or not 0 < sigma_range[0] <= sigma_range[1]):
            raise ValueError(f'BoxGaussianBlur: sigma_range must be (min, '
                             f'max) with 0 < min <= max, got {sigma_range!r}')
        if not 0 <= prob <= 1:
            raise ValueError(f'BoxGaussianBlur: prob must be in [0, 1], got '
                             f'{prob}')
        self.sigma_range = tuple(float(s) for s in sigma_range)
        self.prob = prob

    @cache_randomness
    def _rand_sigma(self) -> Optional[float]:
        """None (no blur) or the sigma, drawn like mmpretrain."""
        if np.random.rand() > self.prob:
            return None
        return np.random.uniform(*self.sigma_range)

    @staticmethod
    def blur(img: np.ndarray, sigma: float) -> np.ndarray:
        """PIL's ``GaussianBlur(radius=sigma)`` of a uint8 image."""
        kernel = pil_box_kernel(sigma)
        for taps in (kernel[None], kernel[:, None]):
            for _ in range(3):
                # PIL rounds half up with weights truncated to 24 bits:
                # a tie rounds down there, hence the small negative delta
                img = cv2.filter2D(img, -1, taps, delta=-1e-3,
                                   borderType=cv2.BORDER_REPLICATE)
        return img

    def transform(self, results: dict) -> dict:
        """Blur ``results['img']`` with probability ``prob``."""
        sigma = self._rand_sigma()
        if sigma is not None:
            if results['img'].dtype != np.uint8:
                raise ValueError(f'BoxGaussianBlur: needs a uint8 image, got '
                                 f'{results["img"].dtype}')
            results['img'] = self.blur(results['img'], sigma)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(sigma_range={self.sigma_range}, '
                f'prob={self.prob})')
