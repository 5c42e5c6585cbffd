"""Entropy and pooled-feature formulas on hand-made maps."""
import math

import numpy as np
import pytest
import torch

from s5_mm.selection.entropy import (entropy_map, masked_avg_pool,
                                     mean_entropy, padding_valid_mask)


def _logits_of(probs: torch.Tensor) -> torch.Tensor:
    # log of probabilities are valid logits (softmax(log p) = p); zeros -> -1e4
    return torch.log(probs.clamp_min(1e-30)).clamp_min(-1e4)


def test_uniform_is_log_c_and_one_hot_is_zero():
    c = 7
    uniform = torch.full((1, c, 4, 5), 1.0 / c)
    one_hot = torch.zeros(1, c, 4, 5)
    one_hot[:, 3] = 1
    assert torch.allclose(entropy_map(uniform), torch.full((1, 4, 5),
                                                           math.log(c)))
    assert torch.equal(entropy_map(one_hot), torch.zeros(1, 4, 5))
    ent = mean_entropy(_logits_of(torch.cat([uniform, one_hot])))
    assert ent[0].item() == pytest.approx(math.log(c), abs=1e-6)
    assert ent[1].item() == pytest.approx(0.0, abs=1e-6)


def test_mean_entropy_matches_numpy_formula():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((2, 5, 3, 4)).astype(np.float32) * 3
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    expected = (-(p * np.log(p)).sum(1)).reshape(2, -1).mean(1)
    got = mean_entropy(torch.from_numpy(logits)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_padding_and_ignore_pixels_are_excluded():
    c = 4
    # image 0: left 2 columns one-hot (entropy 0), right 2 columns uniform
    probs = torch.zeros(2, c, 3, 4)
    probs[0, 1, :, :2] = 1
    probs[0, :, :, 2:] = 1.0 / c
    # image 1: everything uniform except one one-hot pixel
    probs[1] = 1.0 / c
    probs[1, :, 0, 0] = torch.tensor([1.0, 0, 0, 0])
    logits = _logits_of(probs)
    # the uniform right half of image 0 is padding (right padding 2)
    valid = padding_valid_mask(2, 3, 4, [(0, 2, 0, 0), (0, 0, 0, 0)])
    assert valid[0].sum() == 6 and valid[1].all()
    # in image 1 all pixels but the one-hot one are ignored
    label = torch.full((2, 3, 4), 255)
    label[0] = 0
    label[1, 0, 0] = 2
    ent = mean_entropy(logits, valid, seg_label=label)
    assert ent.tolist() == pytest.approx([0.0, 0.0], abs=1e-6)
    # without the masks both images mix in uniform pixels: 6/12 and 11/12
    ent = mean_entropy(logits)
    assert ent.tolist() == pytest.approx(
        [0.5 * math.log(c), 11 / 12 * math.log(c)], abs=1e-5)


def test_no_valid_pixel_is_an_error():
    with pytest.raises(ValueError, match='no valid pixel'):
        mean_entropy(torch.zeros(1, 3, 2, 2), torch.zeros(1, 2, 2, dtype=bool))


def test_masked_avg_pool_weights_cells_by_valid_area():
    feat = torch.arange(8.).reshape(1, 2, 2, 2)  # channel 0: [[0,1],[2,3]]
    # 4x4 pixel mask, right column of pixels padded -> right feature cells
    # are half valid
    valid = torch.ones(1, 4, 4, dtype=torch.bool)
    valid[:, :, 3] = False
    pooled = masked_avg_pool(feat, valid)
    w = np.array([[1, 0.5], [1, 0.5]])
    for ch in range(2):
        f = feat[0, ch].numpy()
        assert pooled[0, ch].item() == pytest.approx((f * w).sum() / w.sum())
    assert torch.allclose(masked_avg_pool(feat), feat.mean((2, 3)))
