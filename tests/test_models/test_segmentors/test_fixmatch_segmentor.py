"""FixMatchSegmentor losses: hand computations, weights, padding, options."""
import copy
import math

import pytest
import torch

from s5_mm.models.segmentors.fixmatch_segmentor import pseudo_label_loss

from s4p_utils import add_second_strong_view, build_model, real_batches


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

    sup = ref.loss(inputs['sup'], samples['sup'])['decode.loss_ce']
    ref.eval()
    with torch.no_grad():
        probs = model._student_logits(inputs['unsup_teacher'], model=ref)
        conf, pl = probs.softmax(1).max(1)
    ref.train()
    strong = model._student_logits(inputs['unsup_student'], model=ref)
    ignore = torch.stack([s.gt_sem_seg.data[0] == 255
                          for s in samples['unsup_teacher']])
    ce = torch.nn.functional.cross_entropy(strong, pl, reduction='none')
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

    # the dropout zeroes whole channels with rate fp_drop and rescales the rest
    feats = [torch.ones(8, 64, 3, 3)]
    gen = torch.Generator().manual_seed(0)
    out = model._channel_dropout(feats, gen)[0]
    per_channel = out[:, :, 0, 0]
    assert torch.all((out == per_channel[..., None, None]))
    assert set(per_channel.unique().tolist()) == {0.0, 2.0}
    assert 0.35 < (per_channel == 0).float().mean().item() < 0.65


def test_complementary_channel_dropout(demo_cfg):
    model = build_model(demo_cfg, comp_drop=True, conf_thr=0.0)
    n, c = 6, 64
    feats = [torch.ones(2 * n, c, 2, 2)] * 4
    out = model._comp_dropout(feats, torch.Generator().manual_seed(1))
    m = out[0][:, :, 0, 0]
    m1, m2 = m[:n], m[n:]
    kept = (m1 == 1).all(1)
    assert kept.sum().item() == int(n * 0.5)  # comp_drop_keep = 0.5
    assert torch.all(m2[kept] == 1)
    dropped = ~kept
    # view 1 keeps exactly the channels view 2 drops, both scaled by 2
    assert torch.all(m1[dropped] + m2[dropped] == 2)
    assert set(m1[dropped].unique().tolist()) == {0.0, 2.0}
    assert all(torch.equal(o[:, :, 0, 0], m) for o in out)  # same per level

    # needs a second strong view in the data, and trains with it
    with pytest.raises(KeyError, match='unsup_student2'):
        data = model.data_preprocessor(real_batches(demo_cfg)[0], True)
        model.loss(*_split(data))
    cfg2 = add_second_strong_view(demo_cfg)
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
    with pytest.raises(ValueError, match="'self' or 'ema'"):
        build_model(demo_cfg, teacher='mean')
    model = build_model(demo_cfg)
    data = model.data_preprocessor(real_batches(demo_cfg)[0], True)
    inputs, samples = _split(data)
    for s in samples['unsup_teacher']:
        del s.gt_sem_seg
    with pytest.raises(KeyError, match='LoadIgnoreMask'):
        model.loss(inputs, samples)

