"""PseudoLabelClassStats on hand-made cases: the class weights and their
bias-corrected running average, and the all-reduce of the class counts
(mocked 2 ranks)."""
import mmengine.dist
import pytest
import torch

from s5_mm.models.utils.pseudo_label_balance import PseudoLabelClassStats

# one image, 3 classes, 2 x 2 pixels; the last pixel is padding
PROBS = torch.tensor([[0.9, 0.05, 0.05], [0.6, 0.3, 0.1], [0.2, 0.7, 0.1],
                      [0.1, 0.1, 0.8]]).T.reshape(1, 3, 2, 2)
IGNORE = torch.tensor([[[False, False], [False, True]]])


def _weights(freq, power):
    freq = [max(f, 1e-4) for f in freq]
    w = [f**-power for f in freq]
    norm = sum(a * b for a, b in zip(freq, w))
    return [x / norm for x in w]


def test_class_weights_by_hand():
    stats = PseudoLabelClassStats(3, weight_power=0.5, momentum=0.0)
    stats.update(PROBS, IGNORE)
    # predicted classes of the valid pixels: 0, 0, 1 -> f = (2/3, 1/3, 1e-4)
    assert stats.class_weights().tolist() == pytest.approx(
        _weights([2 / 3, 1 / 3, 0], 0.5), rel=1e-6)
    # normalised over the floored frequencies: the absent class 2 counts
    # as 1e-4 of the pixels with weight 1e-4 ** -.5 = 100 times w_norm
    w = stats.class_weights()
    assert float(2 / 3 * w[0] + 1 / 3 * w[1] + 1e-4 * w[2]) == pytest.approx(
        1, rel=1e-6)
    assert float(w[2] / w[1]) == pytest.approx((1e-4 / (1 / 3))**-0.5,
                                               rel=1e-5)


def test_running_frequencies_are_bias_corrected():
    stats = PseudoLabelClassStats(3, weight_power=1.0, momentum=0.5)
    stats.update(PROBS, IGNORE)
    # first update: the batch's own frequencies, (2/3, 1/3, 0)
    assert stats.class_weights().tolist() == pytest.approx(
        _weights([2 / 3, 1 / 3, 0], 1.0), rel=1e-6)
    # second batch: one pixel of class 2; ema = .5 * .5 * f1 + .5 * f2,
    # divided by 1 - .5 ** 2
    probs2 = torch.tensor([0.1, 0.2, 0.7]).view(1, 3, 1, 1)
    stats.update(probs2, torch.zeros(1, 1, 1, dtype=torch.bool))
    freq = [(0.25 * 2 / 3) / 0.75, (0.25 * 1 / 3) / 0.75, 0.5 / 0.75]
    assert stats.ema.tolist() == pytest.approx(
        [0.25 * 2 / 3, 0.25 / 3, 0.5], rel=1e-12)
    assert stats.class_weights().tolist() == pytest.approx(
        _weights(freq, 1.0), rel=1e-6)
    assert stats.steps.item() == 2


def test_all_reduce_sums_the_ranks(monkeypatch):
    """Rank 0 sees PROBS, rank 1 a second batch: after the all-reduce both
    hold the statistics of the union of their pixels."""
    probs1 = torch.softmax(torch.randn(2, 3, 4, 4,
                                       generator=torch.Generator()
                                       .manual_seed(0)), dim=1)
    ignore1 = torch.zeros(2, 4, 4, dtype=torch.bool)
    ignore1[:, 0] = True
    sums = {}

    def record(tensor, op='sum', group=None):
        sums['rank1'] = tensor.clone()

    monkeypatch.setattr(mmengine.dist, 'all_reduce', record)
    PseudoLabelClassStats(3, 1.0, 0.5).update(probs1, ignore1)

    calls = []

    def two_ranks(tensor, op='sum', group=None):
        calls.append(op)
        tensor.add_(sums['rank1'])

    monkeypatch.setattr(mmengine.dist, 'all_reduce', two_ranks)
    reduced = PseudoLabelClassStats(3, 1.0, 0.5)
    reduced.update(PROBS, IGNORE)
    assert calls == ['sum']
    monkeypatch.undo()

    union = PseudoLabelClassStats(3, 1.0, 0.5)
    flat = torch.cat([PROBS.flatten(2), probs1.flatten(2).permute(1, 0, 2)
                      .reshape(1, 3, -1)], dim=2)[..., None]
    union.update(flat, torch.cat([IGNORE.flatten(1), ignore1.flatten()[None]],
                                 dim=1)[..., None])
    assert torch.allclose(reduced.ema, union.ema, rtol=1e-12, atol=0)
    assert torch.allclose(reduced.class_weights(), union.class_weights())
    # the union's counts by hand: 3 + 24 valid pixels
    label1 = probs1.argmax(1)[~ignore1]
    counts = torch.bincount(label1, minlength=3).double()
    counts[0] += 2
    counts[1] += 1
    assert reduced.ema.tolist() == pytest.approx(
        (counts / 27 * 0.5).tolist(), rel=1e-12)
    alone = PseudoLabelClassStats(3, 1.0, 0.5)
    alone.update(PROBS, IGNORE)
    assert not torch.allclose(alone.class_weights(), reduced.class_weights())


def test_bad_arguments():
    with pytest.raises(ValueError, match='class_stats_momentum'):
        PseudoLabelClassStats(3, 0.5, momentum=1.0)
    with pytest.raises(ValueError, match='class_weight_power'):
        PseudoLabelClassStats(3, 0.0)
    with pytest.raises(RuntimeError, match='update'):
        PseudoLabelClassStats(3, 0.5).class_weights()
