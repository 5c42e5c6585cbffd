"""The S5 authors' test-time forwards (resize, flips, summed-softmax slide)
as test modes of MultiDatasetEncoderDecoder, on the tiny released MoE-MDF
config with the authors' checkpoint layout converted: the probabilities
equal an independent reimplementation of their evaluate.py
(tests/utils/s5_reference_seg.py: authors_eval_probs) on random weights."""
import pytest
import torch
from mmengine.config import ConfigDict
from mmseg.structures import SegDataSample
from s5_reference_seg import MDF_HEADS, authors_eval_probs, authors_forward
from s5_released_seg import (HEADS, IMG, MDF_CFG, OUT, PATCH, mdf_state,
                             released_mdf_model, tiny)

import s5_mm  # noqa: F401
from s5_mm.models.segmentors.prob_test_modes import (prob_inference,
                                                     window_starts)

# their modes (evaluate.py), scaled to the tiny model's 64 px input
TINY_PROTOCOL = dict(
    vaihingen=dict(mode='whole', flip_directions=['horizontal', 'vertical']),
    potsdam=dict(mode='whole', flip_directions=['horizontal', 'vertical']),
    openearthmap=dict(mode='resize', resize_size=(IMG, IMG),
                      resize_align_corners=True),
    loveda=dict(mode='slide_prob_sum', crop_size=(IMG, IMG),
                stride=(IMG // 2, IMG // 2)))
THEIR_MODE = dict(vaihingen='original', potsdam='original',
                  openearthmap='resize', loveda='slide_window')
SHAPES = dict(vaihingen=(IMG, IMG), potsdam=(IMG, IMG),
              openearthmap=(80, 112), loveda=(96, 128))


@pytest.fixture(scope='module')
def state():
    return mdf_state(seed=3)


def model_with(state, protocol):
    cfg = tiny(MDF_CFG)
    assert set(cfg.model.test_cfg.per_dataset) == set(protocol)
    cfg.model.test_cfg = dict(mode='whole', per_dataset=protocol)
    return released_mdf_model(cfg, state)


def sample(name, shape):
    return SegDataSample(metainfo=dict(
        dataset_name=name, img_shape=shape, ori_shape=shape, pad_shape=shape,
        padding_size=[0, 0, 0, 0]))


def reference(state, name, img):
    task = [n for n, _, _ in MDF_HEADS].index(name)
    head = (task, ) + MDF_HEADS[task][1:]

    def forward(x):
        return authors_forward(state, x, HEADS, PATCH, OUT, head)

    return authors_eval_probs(forward, img, THEIR_MODE[name],
                              crop_size=IMG, step=IMG // 2)[0]


@pytest.mark.parametrize('name', ['vaihingen', 'openearthmap', 'loveda'])
def test_modes_equal_the_authors_evaluation(state, name):
    model = model_with(state, TINY_PROTOCOL)
    torch.manual_seed(0)
    img = torch.randn(1, 3, *SHAPES[name])
    with torch.no_grad():
        pred = model.predict(img, [sample(name, SHAPES[name])])[0]
        ref = reference(state, name, img)
    err = (pred.seg_logits.data - ref).abs().max().item()
    print(f'{name} ({THEIR_MODE[name]}): max |ours - authors| = {err:.2e}')
    assert pred.seg_logits.data.shape == ref.shape
    assert err <= 1e-5
    assert torch.equal(pred.pred_sem_seg.data[0], ref.argmax(0))


def test_settings_matter(state):
    """The comparison can fail: mmseg's align_corners=False resize, a flip
    missing or mmseg's averaged slide each give other probabilities."""
    changed = dict(
        openearthmap=dict(TINY_PROTOCOL['openearthmap'],
                          resize_align_corners=False),
        vaihingen=dict(TINY_PROTOCOL['vaihingen'],
                       flip_directions=['horizontal']),
        loveda=dict(mode='slide', crop_size=(IMG, IMG),
                    stride=(IMG // 2, IMG // 2)))
    model = model_with(state, dict(TINY_PROTOCOL, **changed))
    torch.manual_seed(0)
    for name in changed:
        img = torch.randn(1, 3, *SHAPES[name])
        with torch.no_grad():
            pred = model.predict(img, [sample(name, SHAPES[name])])[0]
            ref = reference(state, name, img)
        ours = pred.seg_logits.data
        if name == 'loveda':  # mmseg's slide: mean logits, not probabilities
            ours = ours.softmax(0)
            ref = ref / ref.sum(0, keepdim=True)
        assert (ours - ref).abs().max().item() > 1e-3, name


def test_window_starts_repeat_the_last_window():
    # their loop: k = 0 .. 1024 // 256, clipped to 1024 - 512
    assert window_starts(1024, 512, 256) == [0, 256, 512, 512, 512]
    assert window_starts(512, 512, 341) == [0, 0]
    with pytest.raises(ValueError, match='smaller than crop_size 512'):
        window_starts(500, 512, 256)


def test_bad_settings_are_named():
    def encode_decode(x, metas):
        return x

    img, metas = torch.zeros(1, 3, 8, 8), [{}]
    with pytest.raises(ValueError, match="flip_directions needs mode='whole'"):
        prob_inference(encode_decode, img, metas, ConfigDict(
            mode='resize', resize_size=(4, 4), flip_directions=['vertical']))
    with pytest.raises(KeyError, match='needs resize_size'):
        prob_inference(encode_decode, img, metas, ConfigDict(mode='resize'))
    with pytest.raises(ValueError, match="unknown \\['diagonal'\\]"):
        prob_inference(encode_decode, img, metas, ConfigDict(
            mode='whole', flip_directions=['diagonal']))
