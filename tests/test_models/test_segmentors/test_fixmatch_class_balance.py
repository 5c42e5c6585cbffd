"""The class-weight option of FixMatchSegmentor (``class_weight_power``) on
hand-made cases: the weights and their running average, the weighted loss,
the all-reduce of the class counts (mocked 2 ranks), the EMA teacher, and
the default path left unchanged."""
import copy
import math

import mmengine.dist
import pytest
import torch
from mmengine.optim import OptimWrapper
from mmengine.runner import load_checkpoint

from s5_mm.models.segmentors.fixmatch_segmentor import pseudo_label_loss
from s5_mm.models.utils.pseudo_label_balance import PseudoLabelClassStats

from fixmatch_test_utils import build_fixmatch, demo_batches, demo_config

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


def test_weighted_loss_by_hand():
    logits = torch.tensor([[[[2.0, 0.0], [1.0, 0.0]],
                            [[0.0, 1.0], [1.0, 3.0]]]])
    label = torch.tensor([[[0, 1], [1, 0]]])
    conf = torch.tensor([[[0.99, 0.96], [0.40, 0.96]]])
    ignore = torch.tensor([[[False, False], [False, True]]])
    weight = torch.tensor([2.0, 0.5])
    # (0,0): class 0, .99 >= .95 -> 2 * CE, CE = log(1 + e^-2)
    # (0,1): class 1, .96 >= .95 -> .5 * log(1 + e^-1)
    # (1,0): .40 < .95 -> no loss, counted; (1,1): padding
    expected = (2 * math.log(1 + math.exp(-2))
                + 0.5 * math.log(1 + math.exp(-1))) / 3
    loss = pseudo_label_loss(logits, label, conf, ignore, 0.95, weight)
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    unweighted = (math.log(1 + math.exp(-2))
                  + math.log(1 + math.exp(-1))) / 3
    assert pseudo_label_loss(logits, label, conf, ignore,
                             0.95).item() == pytest.approx(unweighted,
                                                           rel=1e-6)


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


def test_segmentor_all_reduces_the_class_counts(monkeypatch):
    """The training step's statistics go through mmengine.dist.all_reduce:
    with a mocked second rank holding the same batch, the frequencies are
    unchanged but the pixel counts double."""
    cfg = demo_config()
    model = build_fixmatch(cfg, class_weight_power=0.5,
                           class_stats_momentum=0.0, conf_thr=0.3)
    seen = []

    def two_ranks(tensor, op='sum', group=None):
        seen.append(tensor.clone())
        tensor.mul_(2)

    monkeypatch.setattr(mmengine.dist, 'all_reduce', two_ranks)
    data = model.data_preprocessor(demo_batches(cfg)[0], True)
    model.train()
    model.loss(data['inputs'], data['data_samples'])
    assert len(seen) == 1
    n_valid = sum(int((s.gt_sem_seg.data != 255).sum())
                  for s in data['data_samples']['unsup_teacher'])
    assert seen[0][-1].item() == n_valid
    assert seen[0][:-1].sum().item() == n_valid
    assert model.class_stats.ema.tolist() == pytest.approx(
        (seen[0][:-1] / n_valid).tolist(), rel=1e-12)


def test_bad_options():
    cfg = demo_config()
    with pytest.raises(KeyError, match='class_thr.*was removed'):
        build_fixmatch(cfg, class_thr='freematch')
    with pytest.raises(ValueError, match='class_stats_momentum'):
        build_fixmatch(cfg, class_weight_power=0.5, class_stats_momentum=1.0)
    with pytest.raises(ValueError, match='class_weight_power'):
        build_fixmatch(cfg, class_weight_power=-1)


def test_default_path_has_no_class_statistics(tmp_path):
    cfg = demo_config()
    torch.manual_seed(0)
    default = build_fixmatch(cfg)
    assert not hasattr(default, 'class_stats')
    assert not any('class_stats' in k for k in default.state_dict())
    # the option with its off value builds the very same model and steps
    off = build_fixmatch(cfg, class_weight_power=0.0)
    off.load_state_dict(default.state_dict())
    batch = demo_batches(cfg)[0]
    logs = []
    for model in (default, off):
        model.train()
        logs.append(model.train_step(
            copy.deepcopy(batch),
            OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))))
    assert all(torch.equal(logs[0][k], logs[1][k]) for k in logs[0])
    assert not any(k.startswith('unsup_w_cls') for k in logs[0])


def test_class_weights_with_ema_teacher(tmp_path):
    """Statistics come from the EMA teacher's weak-view softmax; the loss
    uses them; a plain checkpoint loads strictly (fresh statistics)."""
    cfg = demo_config()
    model = build_fixmatch(cfg, teacher='ema', class_weight_power=0.5,
                           class_stats_momentum=0.0, conf_thr=0.3)
    plain = model.student.state_dict()
    ckpt = tmp_path / 'plain.pth'
    torch.save(dict(state_dict=plain), ckpt)
    load_checkpoint(model, str(ckpt), map_location='cpu', strict=True)
    assert model.class_stats.steps.item() == 0
    with torch.no_grad():  # the teacher now differs from the student
        for p in model.teacher.parameters():
            p.mul_(1.5)
    data = model.data_preprocessor(demo_batches(cfg)[0], True)
    inputs, samples = data['inputs'], data['data_samples']
    model.train()
    losses = model.loss(inputs, samples)
    weak = inputs['unsup_teacher']
    with torch.no_grad():
        probs = model._teacher_logits(weak).softmax(1)
        student = model.student.training
        model.student.eval()
        student_probs = model._student_logits(weak).softmax(1)
        model.student.train(student)
    ignore = torch.stack([s.gt_sem_seg.data[0] == 255
                          for s in samples['unsup_teacher']])
    expected = PseudoLabelClassStats(7, 0.5, 0.0)
    expected.update(probs, ignore)
    assert torch.equal(model.class_stats.ema, expected.ema)
    from_student = PseudoLabelClassStats(7, 0.5, 0.0)
    from_student.update(student_probs, ignore)
    assert not torch.equal(model.class_stats.ema, from_student.ema)
    w = expected.class_weights()
    assert [losses[f'unsup_w_cls{k}'].item() for k in range(7)] == w.tolist()
    conf = probs.max(1).values
    keep = (conf >= 0.3) & ~ignore
    assert losses['unsup_conf_ratio'].item() == pytest.approx(
        (keep.sum() / (~ignore).sum()).item())
    assert torch.isfinite(losses['unsup_loss_seg'])
    # the statistics are checkpointed, and a resumed model continues them
    assert {'class_stats.ema', 'class_stats.steps'} <= set(model.state_dict())
    resumed = build_fixmatch(cfg, teacher='ema', class_weight_power=0.5,
                             class_stats_momentum=0.0, conf_thr=0.3)
    resumed.load_state_dict(model.state_dict(), strict=True)
    assert resumed.class_stats.steps.item() == 1
    assert torch.equal(resumed.class_stats.ema, model.class_stats.ema)
