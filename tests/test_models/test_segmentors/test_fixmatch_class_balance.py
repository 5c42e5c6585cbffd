"""Class-balance options of FixMatchSegmentor on hand-made cases: FreeMatch /
FlexMatch class thresholds, class-frequency weights, the all-reduce of the
class statistics (mocked 2 ranks), and the default path left unchanged."""
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


def _stats(mode=None, power=0.0, momentum=0.5):
    return PseudoLabelClassStats(3, mode, power, momentum)


def test_freematch_thresholds_by_hand():
    stats = _stats('freematch')
    stats.update(PROBS, IGNORE, conf_thr=0.95)
    # valid pixels: confidences .9 .6 .7 -> global tau = 2.2 / 3
    # mean class probabilities 1.7/3, 1.05/3, .25/3 -> MaxNorm * tau
    tau = 2.2 / 3
    expected = [tau, 1.05 / 1.7 * tau, 0.25 / 1.7 * tau]
    assert stats.thresholds(0.95).tolist() == pytest.approx(expected,
                                                            rel=1e-6)
    # second batch: one pixel, probabilities (0, 1, 0); bias-corrected EMA
    # (m = .5): value = (.25 x1 + .5 x2) / .75
    probs2 = torch.tensor([0.0, 1.0, 0.0]).view(1, 3, 1, 1)
    stats.update(probs2, torch.zeros(1, 1, 1, dtype=torch.bool), 0.95)
    tau = (0.25 * 2.2 / 3 + 0.5 * 1.0) / 0.75
    local = [(0.25 * 1.7 / 3) / 0.75, (0.25 * 1.05 / 3 + 0.5) / 0.75,
             (0.25 * 0.25 / 3) / 0.75]
    expected = [v / max(local) * tau for v in local]
    assert stats.thresholds(0.95).tolist() == pytest.approx(expected,
                                                            rel=1e-6)
    assert stats.class_weights() is None


def test_flexmatch_thresholds_by_hand():
    stats = _stats('flexmatch')
    stats.update(PROBS, IGNORE, conf_thr=0.8)
    # only pixel .9 (class 0) is above .8: sigma = (1/3, 0, 0), unused 2/3,
    # beta = sigma / max(1/3, 2/3) = (.5, 0, 0), M(.5) = .5 / 1.5
    assert stats.thresholds(0.8).tolist() == pytest.approx(
        [0.8 / 3, 0.0, 0.0], abs=1e-7)
    stats = _stats('flexmatch', momentum=0.0)
    stats.update(PROBS, IGNORE, conf_thr=0.65)
    # .9 (class 0) and .7 (class 1) pass: sigma = (1/3, 1/3, 0) = unused
    assert stats.thresholds(0.65).tolist() == pytest.approx(
        [0.65, 0.65, 0.0], abs=1e-7)


def test_class_weights_by_hand():
    stats = _stats(power=0.5, momentum=0.0)
    stats.update(PROBS, IGNORE, conf_thr=0.95)
    # predicted classes of the valid pixels: 0, 0, 1 -> f = (2/3, 1/3, 1e-4)
    f = [2 / 3, 1 / 3, 1e-4]
    w = [x**-0.5 for x in f]
    norm = sum(a * b for a, b in zip(f, w))
    assert stats.class_weights().tolist() == pytest.approx(
        [x / norm for x in w], rel=1e-6)
    assert stats.thresholds(0.95) == 0.95  # no class thresholds


def test_loss_with_class_thresholds_and_weights_by_hand():
    logits = torch.tensor([[[[2.0, 0.0], [1.0, 0.0]],
                            [[0.0, 1.0], [1.0, 3.0]]]])
    label = torch.tensor([[[0, 1], [1, 0]]])
    conf = torch.tensor([[[0.99, 0.50], [0.40, 0.96]]])
    ignore = torch.tensor([[[False, False], [False, True]]])
    thr = torch.tensor([0.95, 0.45])
    weight = torch.tensor([2.0, 0.5])
    # (0,0): class 0, .99 >= .95 -> 2 * CE, CE = log(1 + e^-2)
    # (0,1): class 1, .50 >= .45 -> .5 * log(1 + e^-1)
    # (1,0): class 1, .40 < .45 -> no loss, counted; (1,1): padding
    expected = (2 * math.log(1 + math.exp(-2))
                + 0.5 * math.log(1 + math.exp(-1))) / 3
    loss = pseudo_label_loss(logits, label, conf, ignore, thr, weight)
    assert loss.item() == pytest.approx(expected, rel=1e-6)


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
    _stats('freematch', power=1.0).update(probs1, ignore1, 0.5)

    calls = []

    def two_ranks(tensor, op='sum', group=None):
        calls.append(op)
        tensor.add_(sums['rank1'])

    monkeypatch.setattr(mmengine.dist, 'all_reduce', two_ranks)
    reduced = _stats('freematch', power=1.0)
    reduced.update(PROBS, IGNORE, 0.5)
    assert calls == ['sum']
    monkeypatch.undo()

    union = _stats('freematch', power=1.0)
    flat = torch.cat([PROBS.flatten(2), probs1.flatten(2).permute(1, 0, 2)
                      .reshape(1, 3, -1)], dim=2)[..., None]
    union.update(flat, torch.cat([IGNORE.flatten(1), ignore1.flatten()[None]],
                                 dim=1)[..., None], 0.5)
    assert torch.allclose(reduced.ema, union.ema, rtol=1e-12, atol=0)
    assert torch.allclose(reduced.thresholds(0.5), union.thresholds(0.5))
    assert torch.allclose(reduced.class_weights(), union.class_weights())
    alone = _stats('freematch', power=1.0)
    alone.update(PROBS, IGNORE, 0.5)
    assert not torch.allclose(alone.thresholds(0.5), reduced.thresholds(0.5))


def test_bad_options():
    cfg = demo_config()
    with pytest.raises(ValueError, match='class_thr'):
        build_fixmatch(cfg, class_thr='adaptive')
    with pytest.raises(ValueError, match='class_stats_momentum'):
        build_fixmatch(cfg, class_thr='freematch', class_stats_momentum=1.0)
    with pytest.raises(ValueError, match='class_weight_power'):
        build_fixmatch(cfg, class_weight_power=-1)


def test_default_path_has_no_class_statistics(tmp_path):
    cfg = demo_config()
    torch.manual_seed(0)
    default = build_fixmatch(cfg)
    assert not hasattr(default, 'class_stats')
    assert not any('class_stats' in k for k in default.state_dict())
    # options with their off values build the very same model and steps
    off = build_fixmatch(cfg, class_thr=None, class_weight_power=0.0)
    off.load_state_dict(default.state_dict())
    batch = demo_batches(cfg)[0]
    logs = []
    for model in (default, off):
        model.train()
        logs.append(model.train_step(
            copy.deepcopy(batch),
            OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))))
    assert all(torch.equal(logs[0][k], logs[1][k]) for k in logs[0])


@pytest.mark.parametrize('mode', ['freematch', 'flexmatch'])
def test_options_with_ema_teacher(mode, tmp_path):
    """Statistics come from the EMA teacher's weak-view softmax; the loss
    uses them; a plain checkpoint loads strictly (fresh statistics)."""
    cfg = demo_config()
    model = build_fixmatch(cfg, teacher='ema', class_thr=mode,
                           class_weight_power=0.5, class_stats_momentum=0.0,
                           conf_thr=0.3)
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
    ignore = torch.stack([s.gt_sem_seg.data[0] == 255
                          for s in samples['unsup_teacher']])
    expected = PseudoLabelClassStats(7, mode, 0.5, 0.0)
    expected.update(probs, ignore, 0.3)
    thr = expected.thresholds(0.3)
    assert torch.equal(model.class_stats.ema, expected.ema)
    assert [losses[f'unsup_thr_cls{k}'].item() for k in range(7)] == \
        thr.tolist()
    w = expected.class_weights()
    assert [losses[f'unsup_w_cls{k}'].item() for k in range(7)] == w.tolist()
    conf, label = probs.max(1)
    keep = (conf >= thr[label]) & ~ignore
    assert losses['unsup_conf_ratio'].item() == pytest.approx(
        (keep.sum() / (~ignore).sum()).item())
    assert torch.isfinite(losses['unsup_loss_seg'])
    # the statistics are checkpointed
    assert {'class_stats.ema', 'class_stats.steps'} <= set(model.state_dict())
