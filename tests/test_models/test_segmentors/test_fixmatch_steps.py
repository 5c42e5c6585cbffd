"""FixMatchSegmentor's named steps reproduce, to the bit, a plain one-body
FixMatch written here from the method's description (the shipped demo
config, two training steps, self / EMA teacher, UniMatch V2 switches)."""
import copy

import pytest
import torch
import torch.nn.functional as F
from mmengine.logging import MessageHub
from mmengine.optim import OptimWrapper

from s5_mm.models.segmentors.fixmatch_segmentor import cutmix_boxes

from fixmatch_test_utils import build_fixmatch, demo_batches, demo_config


def _logits(net, x, feat_fn=None):
    feats = net.backbone(x)
    if feat_fn is not None:
        feats = feat_fn(feats)
    feats = net.neck(feats)
    out = net.decode_head.forward(feats)
    return F.interpolate(out, size=x.shape[2:], mode='bilinear',
                         align_corners=net.align_corners)


def _plain_fixmatch(model, inputs, samples, it):
    """One-body FixMatch loss: teacher on the weak view, CutMix with the
    reversed batch, thresholded CE, (UniMatch V2) complementary dropout,
    (UniMatch) feature perturbation. Random draws as documented: a
    generator seeded with torch's seed + 1000003 * (iteration + 1)."""
    cfg = model.semi_train_cfg
    student = model.student
    sup = student.loss(inputs['sup'], samples['sup'])
    losses = {'sup_' + k: (v * (cfg['sup_weight'] / 2) if 'loss' in k else v)
              for k, v in sup.items()}
    weak = inputs['unsup_teacher']
    teacher = model.teacher if cfg['teacher'] == 'ema' else student
    teacher.eval()
    with torch.no_grad():
        probs = _logits(teacher, weak).softmax(1)
    if cfg['teacher'] == 'self':
        student.train()
    conf, label = probs.max(1)
    ignore = torch.stack([s.gt_sem_seg.data[0] == 255
                          for s in samples['unsup_teacher']])
    gen = torch.Generator().manual_seed(
        (torch.initial_seed() + 1000003 * (it + 1)) % 2**63)
    keys = ['unsup_student'] + (['unsup_student2'] if cfg['comp_drop'] else [])
    views = []
    for key in keys:
        img = inputs[key]
        b, _, h, w = img.shape
        box = cutmix_boxes(b, h, w, cfg['cutmix_prob'], cfg['cutmix_area'],
                           cfg['cutmix_ratio'], gen)
        views.append((torch.where(box[:, None], img.flip(0), img),
                      [torch.where(box, t.flip(0), t)
                       for t in (label, conf, ignore)]))

    def comp_drop(feats):
        n, c = feats[0].shape[:2]
        kept = torch.randperm(n // 2, generator=gen)[:int(
            n // 2 * cfg['comp_drop_keep'])]
        m1 = (torch.rand(n // 2, c, generator=gen) < 0.5).float() * 2
        m2 = 2 - m1
        m1[kept] = 1.0
        m2[kept] = 1.0
        m = torch.cat([m1, m2])[..., None, None]
        return [f * m for f in feats]  # all ViT levels have the same width

    def thresholded_ce(lg, pl, cf, ig):
        ce = F.cross_entropy(lg, pl, reduction='none')
        keep = (cf >= cfg['conf_thr']) & ~ig
        return (ce * keep).sum() / (~ig).sum().clamp(min=1)

    logits = _logits(student, torch.cat([v[0] for v in views]),
                     comp_drop if cfg['comp_drop'] else None)
    strong = sum(thresholded_ce(lg, *v[1])
                 for lg, v in zip(logits.chunk(len(views)), views))
    losses['unsup_loss_seg'] = (strong / len(views) * (cfg['unsup_weight'] / 2)
                                * (1 - cfg['fp_weight']))
    if cfg['fp_weight'] > 0:
        def drop(feats):
            p = cfg['fp_drop']
            return [f * ((torch.rand(f.shape[:2], generator=gen) >= p).to(f)
                         / (1 - p))[..., None, None] for f in feats]
        losses['unsup_loss_fp'] = (cfg['unsup_weight'] / 2 * cfg['fp_weight']
                                   * thresholded_ce(_logits(student, weak,
                                                            drop),
                                                    label, conf, ignore))
    keep = (conf >= cfg['conf_thr']) & ~ignore
    losses['unsup_conf_ratio'] = keep.sum() / (~ignore).sum()
    hist = torch.bincount(label[keep], minlength=probs.shape[1]).float()
    for k in range(probs.shape[1]):
        losses[f'unsup_pl_cls{k}'] = (hist / hist.sum().clamp(min=1))[k]
    return losses


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
    batches = demo_batches(cfg, 2)
    torch.manual_seed(0)
    model = build_fixmatch(cfg, cutmix_prob=1.0, **semi)
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
        expected = _plain_fixmatch(ref, data['inputs'], data['data_samples'],
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


def test_student_logits_does_not_run_the_teacher():
    cfg = demo_config()
    model = build_fixmatch(cfg, teacher='ema')
    calls = []
    model.teacher.backbone.register_forward_pre_hook(
        lambda *a: calls.append('teacher'))
    model.student.backbone.register_forward_pre_hook(
        lambda *a: calls.append('student'))
    x = torch.randn(2, 3, 64, 64)
    model._student_logits(x)
    assert calls == ['student']
    calls.clear()
    model._teacher_logits(x)
    assert calls == ['teacher']


def test_pseudo_labels_step_and_stats():
    cfg = demo_config()
    model = build_fixmatch(cfg, conf_thr=0.2)
    data = model.data_preprocessor(demo_batches(cfg)[0], True)
    weak = data['inputs']['unsup_teacher']
    model.train()
    pseudo = model.get_pseudo_labels(weak,
                                     data['data_samples']['unsup_teacher'])
    assert model.student.training  # back in train mode
    model.student.eval()
    with torch.no_grad():
        probs = _logits(model.student, weak).softmax(1)
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


def test_fixmatch_views_change_nothing():
    cfg = demo_config()
    model = build_fixmatch(cfg, conf_thr=0.2, cutmix_prob=1.0,
                           class_weight_power=0.5)
    batch = demo_batches(cfg)[0]
    model.train()
    model.train_step(copy.deepcopy(batch),
                     OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1)))
    state = copy.deepcopy(model.state_dict())
    calls = model._calls
    views = model.fixmatch_views(copy.deepcopy(batch), 2)
    assert model.training and model._calls == calls
    for k, v in model.state_dict().items():  # BN and class statistics kept
        assert torch.equal(v, state[k]), k
    assert views['weak'].shape == (2, 3, 64, 64)
    assert {k: tuple(v.shape) for k, v in views.items() if v.dim() == 3} == {
        k: (2, 64, 64)
        for k in ('pseudo_label', 'conf', 'ignore', 'conf_thr', 'pred')}
    # the strong view is CutMix-ed with this iteration's boxes (prob 1)
    data = model.data_preprocessor(copy.deepcopy(batch), True)
    strong = data['inputs']['unsup_student']
    box = cutmix_boxes(4 // 2, 64, 64, 1.0, (0.02, 0.4), (0.3, 1 / 0.3),
                       model._generator(advance=False))
    expected = torch.where(box[:, None], strong.flip(0), strong)[:2]
    assert torch.equal(views['strong'], expected)
    # the per-pixel threshold is tau everywhere (class weights change the
    # loss, not the threshold)
    assert torch.equal(views['conf_thr'], torch.full((2, 64, 64), 0.2))
