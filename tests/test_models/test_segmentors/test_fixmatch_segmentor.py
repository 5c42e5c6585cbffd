"""FixMatchSegmentor's loss steps: hand computations, weights, padding,
the teacher's gradient, the UniMatch options, class weights, and the named
steps equal to a plain one-body FixMatch to the bit."""
import copy
import math

import mmengine.dist
import pytest
import torch
import torch.nn.functional as F
from mmengine.logging import MessageHub
from mmengine.optim import OptimWrapper
from mmengine.runner import load_checkpoint

from s5_mm.models.segmentors.fixmatch_segmentor import pseudo_label_loss
from s5_mm.models.utils.pseudo_label_balance import PseudoLabelClassStats

from s4p_utils import (build_model, demo_config, padding_mask, plain_fixmatch,
                       real_batches, reference_logits)


def test_unsup_loss_hand_computed_2x2x2():
    # 2 classes x 2 x 2 pixels, tau = 0.95
    logits = torch.tensor([[[[2.0, 0.0], [1.0, 0.0]],
                            [[0.0, 1.0], [1.0, 3.0]]]])
    pseudo_label = torch.tensor([[[0, 1], [0, 0]]])
    conf = torch.tensor([[[0.99, 0.50], [0.97, 0.96]]])
    ignore = torch.tensor([[[False, False], [True, False]]])
    # pixel (0,0): label 0, conf .99 -> CE = log(1 + e^-2)
    # pixel (0,1): conf .50 < tau  -> no loss, but counted (not padding)
    # pixel (1,0): padding          -> no loss, not counted
    # pixel (1,1): label 0, conf .96 -> CE = log(1 + e^3)
    expected = (math.log(1 + math.exp(-2)) + math.log(1 + math.exp(3))) / 3
    loss = pseudo_label_loss(logits, pseudo_label, conf, ignore, 0.95)
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    # lowering tau below .50 adds pixel (0,1): CE = log(1 + e^-1)
    loss = pseudo_label_loss(logits, pseudo_label, conf, ignore, 0.4)
    expected_all = expected + math.log(1 + math.exp(-1)) / 3
    assert loss.item() == pytest.approx(expected_all, rel=1e-6)


def _split(data):
    return data['inputs'], data['data_samples']


def test_loss_weights_and_self_teacher(demo_cfg):
    """(sup_weight * L_sup + unsup_weight * L_unsup) / 2, the 'self' teacher
    being the student in eval mode without gradient."""
    torch.manual_seed(0)
    model = build_model(demo_cfg, sup_weight=2.0, unsup_weight=0.5,
                        cutmix_prob=0.0, conf_thr=0.0, log_class_hist=False)
    model.train()
    data = model.data_preprocessor(real_batches(demo_cfg)[0], True)
    inputs, samples = _split(data)
    ref = copy.deepcopy(model.student)  # replays the same steps by hand

    losses = model.loss(inputs, samples)

    # mmseg's own loss, and logits by hand (tests/utils/s4p_utils.py)
    sup = ref.loss(inputs['sup'], samples['sup'])['decode.loss_ce']
    ref.eval()
    with torch.no_grad():
        probs = reference_logits(ref, inputs['unsup_teacher'])
        conf, pl = probs.softmax(1).max(1)
    ref.train()
    strong = reference_logits(ref, inputs['unsup_student'])
    ignore = padding_mask(samples['unsup_teacher'])
    ce = F.cross_entropy(strong, pl, reduction='none')
    unsup = ce[~ignore].sum() / (~ignore).sum()

    assert losses['sup_decode.loss_ce'].item() == pytest.approx(
        2.0 / 2 * sup.item(), rel=1e-5)
    assert losses['unsup_loss_seg'].item() == pytest.approx(
        0.5 / 2 * unsup.item(), rel=1e-5)
    assert losses['unsup_conf_ratio'].item() == 1.0  # tau = 0


def test_padding_gets_no_pseudo_label_loss():
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 4, 4)
    pl = torch.randint(0, 3, (2, 4, 4))
    conf = torch.ones(2, 4, 4)
    ignore = torch.zeros(2, 4, 4, dtype=torch.bool)
    ignore[:, :, 2:] = True  # right half is padding
    base = pseudo_label_loss(logits, pl, conf, ignore, 0.95)
    changed = logits.clone()
    changed[:, :, :, 2:] = torch.randn(2, 3, 4, 2) * 10
    assert pseudo_label_loss(changed, pl, conf, ignore, 0.95).item() == \
        pytest.approx(base.item(), rel=1e-6)
    ce = torch.nn.functional.cross_entropy(logits, pl, reduction='none')
    assert base.item() == pytest.approx(
        ce[:, :, :2].sum().item() / 16, rel=1e-6)


def test_teacher_gets_no_gradient_self(demo_cfg):
    model = build_model(demo_cfg)
    model.train()
    data = model.data_preprocessor(real_batches(demo_cfg)[0], True)
    inputs, samples = _split(data)
    weak = inputs['unsup_teacher'].requires_grad_(True)
    strong = inputs['unsup_student'].requires_grad_(True)
    losses = model.loss(inputs, samples)
    # the unsupervised loss reaches the strong view but not the weak one
    losses['unsup_loss_seg'].backward()
    assert weak.grad is None
    assert strong.grad is not None and strong.grad.abs().sum() > 0
    assert model.student.training  # back in train mode after the teacher pass


def test_teacher_gets_no_gradient_ema(demo_cfg):
    model = build_model(demo_cfg, teacher='ema', conf_thr=0.0)
    model.train()
    assert not model.teacher.training
    assert not any(p.requires_grad for p in model.teacher.parameters())
    data = model.data_preprocessor(real_batches(demo_cfg)[0], True)
    losses = model.loss(*_split(data))
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    assert all(p.grad is None for p in model.teacher.parameters())
    grads = [p.grad for p in model.student.parameters() if p.grad is not None]
    assert grads and sum(g.abs().sum() for g in grads) > 0
    assert not model.teacher.training


def test_feature_perturbation_stream(demo_cfg):
    model = build_model(demo_cfg, fp_weight=0.5, conf_thr=0.0)
    model.train()
    data = model.data_preprocessor(real_batches(demo_cfg)[0], True)
    losses = model.loss(*_split(data))
    assert losses['unsup_loss_fp'].item() > 0
    model.zero_grad()
    losses['unsup_loss_fp'].backward()
    grad = model.student.backbone.patch_embed.projection.weight.grad
    assert grad is not None and grad.abs().sum() > 0
    # the dropout itself: tests/test_models/test_utils/test_perturbations.py


def test_complementary_channel_dropout(demo_cfg):
    """The dropout itself: test_perturbations.py; here the segmentor."""
    model = build_model(demo_cfg, comp_drop=True, conf_thr=0.0)
    # needs a second strong view in the data, and trains with it
    with pytest.raises(KeyError, match='unsup_student2'):
        data = model.data_preprocessor(real_batches(demo_cfg)[0], True)
        model.loss(*_split(data))
    cfg2 = demo_config(second_strong_view=True)
    data = model.data_preprocessor(real_batches(cfg2)[0], True)
    assert set(data['inputs']) == {'sup', 'unsup_teacher', 'unsup_student',
                                   'unsup_student2'}
    model.train()
    losses = model.loss(*_split(data))
    assert torch.isfinite(losses['unsup_loss_seg']) and \
        losses['unsup_loss_seg'].item() > 0


def test_config_errors(demo_cfg):
    with pytest.raises(KeyError, match='conf_threshold'):
        build_model(demo_cfg, conf_threshold=0.9)
    # teacher='mean': test_semi_base_segmentor.py::test_config_errors
    model = build_model(demo_cfg)
    data = model.data_preprocessor(real_batches(demo_cfg)[0], True)
    inputs, samples = _split(data)
    for s in samples['unsup_teacher']:
        del s.gt_sem_seg
    with pytest.raises(KeyError, match='LoadIgnoreMask'):
        model.loss(inputs, samples)


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


def test_segmentor_all_reduces_the_class_counts(monkeypatch):
    """The training step's statistics go through mmengine.dist.all_reduce:
    with a mocked second rank holding the same batch, the frequencies are
    unchanged but the pixel counts double."""
    cfg = demo_config()
    model = build_model(cfg, class_weight_power=0.5,
                        class_stats_momentum=0.0, conf_thr=0.3)
    seen = []

    def two_ranks(tensor, op='sum', group=None):
        seen.append(tensor.clone())
        tensor.mul_(2)

    monkeypatch.setattr(mmengine.dist, 'all_reduce', two_ranks)
    data = model.data_preprocessor(real_batches(cfg)[0], True)
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
        build_model(cfg, class_thr='freematch')
    with pytest.raises(ValueError, match='class_stats_momentum'):
        build_model(cfg, class_weight_power=0.5, class_stats_momentum=1.0)
    with pytest.raises(ValueError, match='class_weight_power'):
        build_model(cfg, class_weight_power=-1)


def test_default_path_has_no_class_statistics(tmp_path):
    cfg = demo_config()
    torch.manual_seed(0)
    default = build_model(cfg)
    assert not hasattr(default, 'class_stats')
    assert not any('class_stats' in k for k in default.state_dict())
    # the option with its off value builds the very same model and steps
    off = build_model(cfg, class_weight_power=0.0)
    off.load_state_dict(default.state_dict())
    batch = real_batches(cfg)[0]
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
    uses them (equal to the class-weighted CE by hand, not to the plain
    one); a plain checkpoint loads strictly (fresh statistics)."""
    cfg = demo_config()
    # no CutMix: the strong-view loss is a hand computation on the views
    model = build_model(cfg, teacher='ema', class_weight_power=0.5,
                        class_stats_momentum=0.0, conf_thr=0.3,
                        cutmix_prob=0.0)
    plain = model.student.state_dict()
    ckpt = tmp_path / 'plain.pth'
    torch.save(dict(state_dict=plain), ckpt)
    load_checkpoint(model, str(ckpt), map_location='cpu', strict=True)
    assert model.class_stats.steps.item() == 0
    with torch.no_grad():  # the teacher now differs from the student
        for p in model.teacher.parameters():
            p.mul_(1.5)
    data = model.data_preprocessor(real_batches(cfg)[0], True)
    inputs, samples = data['inputs'], data['data_samples']
    model.train()
    losses = model.loss(inputs, samples)
    weak = inputs['unsup_teacher']
    with torch.no_grad():
        assert not model.teacher.training
        probs = reference_logits(model.teacher, weak).softmax(1)
        strong = reference_logits(model.student, inputs['unsup_student'])
        model.student.eval()
        student_probs = reference_logits(model.student, weak).softmax(1)
        model.student.train()
    ignore = padding_mask(samples['unsup_teacher'])
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
    # the loss: unsup_weight / 2 * sum(w[pl] * CE * keep) / valid pixels
    label = probs.argmax(1)
    ce = F.cross_entropy(strong, label, reduction='none')
    weighted = (w[label] * ce * keep).sum() / (~ignore).sum() / 2
    plain = (ce * keep).sum() / (~ignore).sum() / 2
    assert losses['unsup_loss_seg'].item() == pytest.approx(weighted.item(),
                                                            rel=1e-5)
    assert abs(weighted.item() - plain.item()) > 1e-3 * plain.item()
    # the statistics are checkpointed, and a resumed model continues them
    assert {'class_stats.ema', 'class_stats.steps'} <= set(model.state_dict())
    resumed = build_model(cfg, teacher='ema', class_weight_power=0.5,
                          class_stats_momentum=0.0, conf_thr=0.3)
    resumed.load_state_dict(model.state_dict(), strict=True)
    assert resumed.class_stats.steps.item() == 1
    assert torch.equal(resumed.class_stats.ema, model.class_stats.ema)


CASES = {
    'self-teacher': (False, dict(conf_thr=0.5)),
    'ema-teacher': (False, dict(teacher='ema', conf_thr=0.3)),
    'unimatch-v2': (True, dict(teacher='ema', conf_thr=0.3, comp_drop=True,
                               fp_weight=0.5)),
}


@pytest.mark.parametrize('case', list(CASES))
def test_named_steps_equal_plain_fixmatch_to_the_bit(case):
    second_view, semi = CASES[case]
    cfg = demo_config(second_strong_view=second_view)
    batches = real_batches(cfg, 2)
    torch.manual_seed(0)
    model = build_model(cfg, cutmix_prob=1.0, **semi)
    ref = copy.deepcopy(model)
    init = copy.deepcopy(model.student.state_dict())
    optims = [OptimWrapper(torch.optim.AdamW(m.parameters(), lr=1e-3))
              for m in (model, ref)]
    hub = MessageHub.get_instance(f'h14_steps_{case}')
    for it, batch in enumerate(batches):
        hub.update_info('iter', it)
        model.train()
        ref.train()
        got = model.train_step(copy.deepcopy(batch), optims[0])
        data = ref.data_preprocessor(copy.deepcopy(batch), True)
        expected = plain_fixmatch(ref, data['inputs'], data['data_samples'],
                                  it)
        loss, want = ref.parse_losses(expected)
        optims[1].update_params(loss)
        assert list(got) == list(want)
        for key in want:
            assert torch.equal(got[key], want[key]), (case, it, key)
        assert want['unsup_loss_seg'] > 0 and want['unsup_conf_ratio'] > 0
        # identical updates <=> identical gradients (same AdamW state)
        for (name, p), q in zip(model.named_parameters(), ref.parameters()):
            assert torch.equal(p, q), (case, it, name)
    key = 'backbone.patch_embed.projection.weight'
    assert not torch.equal(model.student.state_dict()[key], init[key])


def test_pseudo_labels_step_and_stats():
    cfg = demo_config()
    model = build_model(cfg, conf_thr=0.2)
    data = model.data_preprocessor(real_batches(cfg)[0], True)
    weak = data['inputs']['unsup_teacher']
    model.train()
    pseudo = model.get_pseudo_labels(weak,
                                     data['data_samples']['unsup_teacher'])
    assert model.student.training  # back in train mode
    model.student.eval()
    with torch.no_grad():
        probs = reference_logits(model.student, weak).softmax(1)
    assert torch.equal(pseudo.conf, probs.max(1).values)
    assert torch.equal(pseudo.label, probs.argmax(1))
    assert pseudo.conf_thr == 0.2 and pseudo.class_weight is None
    stats = model.pseudo_label_stats(pseudo)
    keep = (pseudo.conf >= 0.2) & ~pseudo.ignore
    assert stats['unsup_conf_ratio'].item() == pytest.approx(
        keep.sum().item() / (~pseudo.ignore).sum().item())
    hist = [stats[f'unsup_pl_cls{k}'].item() for k in range(7)]
    assert sum(hist) == pytest.approx(1.0)
    assert hist[int(pseudo.label[keep].mode().values)] == max(hist)


