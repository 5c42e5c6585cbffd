"""CutMix box coincidence, the EMA teacher update, plain-checkpoint loading
and the backbone extractor."""
import copy
from types import SimpleNamespace

import pytest
import torch
from mmengine.registry import init_default_scope
from mmseg.registry import HOOKS, MODELS

from s5_mm.models.segmentors.fixmatch_segmentor import cutmix_boxes
from s4p_utils import build_model
from script_runner import run_script


def test_cutmix_boxes_shape_and_area():
    gen = torch.Generator().manual_seed(0)
    boxes = cutmix_boxes(200, 32, 48, 0.5, (0.02, 0.4), (0.3, 1 / 0.3), gen)
    has_box = boxes.flatten(1).any(1)
    assert 0.35 < has_box.float().mean() < 0.65  # p = 0.5
    area = boxes.flatten(1).float().mean(1)[has_box]
    assert area.min() > 0.005 and area.max() <= 0.41
    for m in boxes[has_box][:20]:  # each mask is one axis-aligned rectangle
        ys, xs = torch.nonzero(m, as_tuple=True)
        rect = m[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
        assert rect.all() and rect.sum() == m.sum()


def test_cutmix_same_box_for_image_label_conf_and_ignore(demo_cfg):
    model = build_model(demo_cfg, cutmix_prob=1.0)
    b, h, w = 4, 16, 16
    idx = torch.arange(b).view(b, 1, 1)
    # every tensor of sample i carries i, so any pixel tells its source
    image = idx[:, None].expand(b, 3, h, w).float()
    label = (idx + 10).expand(b, h, w).clone()
    conf = (idx / 10).expand(b, h, w).clone()
    ignore = (idx % 2 == 1).expand(b, h, w).clone()
    gen = torch.Generator().manual_seed(3)
    m_img, m_label, m_conf, m_ignore = model.cutmix(image, label, conf, ignore,
                                                    gen)
    src = m_img[:, 0].long()
    assert torch.all(m_img == m_img[:, :1])  # all channels alike
    assert torch.equal(m_label, src + 10)
    assert torch.allclose(m_conf, src / 10)
    assert torch.equal(m_ignore, src % 2 == 1)
    for i in range(b):  # pasted pixels come from the reversed batch
        assert set(src[i].unique().tolist()) == {i, b - 1 - i}
    # and the box is the one cutmix_boxes draws from the same generator
    boxes = cutmix_boxes(b, h, w, 1.0, (0.02, 0.4), (0.3, 1 / 0.3),
                         torch.Generator().manual_seed(3))
    assert torch.equal(src != idx, boxes)


def test_ema_hook_formula(demo_cfg):
    init_default_scope('mmseg')
    model = build_model(demo_cfg, teacher='ema')
    hook = HOOKS.build(dict(type='EMATeacherHook', max_ratio=0.996))
    runner = SimpleNamespace(model=model, iter=0)
    torch.manual_seed(0)

    def perturb_student():
        with torch.no_grad():
            for p in model.student.parameters():
                p.add_(torch.randn_like(p))

    for it, ratio in [(0, 0.0), (9, 0.9), (10_000, 0.996)]:
        perturb_student()
        t_old = copy.deepcopy(model.teacher.state_dict())
        s = model.student.state_dict()
        runner.iter = it
        hook.after_train_iter(runner, batch_idx=it)
        for k, v in model.teacher.state_dict().items():
            if v.dtype.is_floating_point:  # params and BN statistics
                expected = ratio * t_old[k] + (1 - ratio) * s[k]
                assert torch.allclose(v, expected, atol=1e-6), (it, k)
    assert hook.momentum_at(0) == 1.0
    assert hook.momentum_at(9) == pytest.approx(0.1)
    assert hook.momentum_at(10_000) == pytest.approx(0.004)


def test_loads_plain_checkpoint_into_student_and_teacher(demo_cfg, tmp_path):
    init_default_scope('mmseg')
    plain = MODELS.build(demo_cfg.model.segmentor)
    ckpt = tmp_path / 'plain.pth'
    torch.save(dict(state_dict=plain.state_dict()), ckpt)
    from mmengine.runner import load_checkpoint
    for teacher in ('self', 'ema'):
        model = build_model(demo_cfg, teacher=teacher)
        load_checkpoint(model, str(ckpt), map_location='cpu', strict=True)
        nets = [model.student] + ([model.teacher] if teacher == 'ema' else [])
        for net in nets:
            for k, v in net.state_dict().items():
                assert torch.equal(v, plain.state_dict()[k]), k


def test_extract_backbone_tool(demo_cfg, tmp_path):
    model = build_model(demo_cfg, teacher='ema')
    with torch.no_grad():
        for p in model.teacher.parameters():
            p.add_(1.0)
    src = tmp_path / 's4p.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict(iter=7)), src)
    for source, backbone, extra in [
            ('student', 'VisionTransformer', ['--strip-prefix']),
            ('teacher', 'MoEViT', [])]:
        dst = tmp_path / f'{source}_backbone.pth'
        proc = run_script(
            ['tools/model_converters/extract_backbone.py',
             str(src), str(dst), '--source', source, *extra], timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        # loads as the backbone's pretrained weights of a fine-tuning model:
        # plain ViT (bare keys) or MoEViT with prefix='backbone.'
        init_default_scope('mmseg')
        seg_cfg = copy.deepcopy(demo_cfg.model.segmentor)
        seg_cfg.backbone.type = backbone
        seg_cfg.backbone.init_cfg = dict(type='Pretrained',
                                         checkpoint=str(dst))
        if backbone == 'MoEViT':
            seg_cfg.backbone.update(dataset_names=['a', 'b'],
                                    expert_channels=16)
            seg_cfg.backbone.init_cfg.prefix = 'backbone.'
        seg = MODELS.build(seg_cfg)
        seg.init_weights()
        ref = getattr(model, source).backbone.state_dict()
        got = seg.backbone.state_dict()
        shared = [k for k in ref if k in got]
        assert len(shared) > 0.8 * len(ref)  # MoEViT splits fc2 into experts
        # MoEViT's shared fc2 holds the first C - P output rows of the dense fc2
        diff = [k for k in shared
                if not torch.equal(got[k], ref[k][:got[k].shape[0]])]
        assert not diff, (backbone, diff)
    proc = run_script(
        ['tools/model_converters/extract_backbone.py',
         str(src), str(tmp_path / 'x.pth'), '--part', 'nothing'], timeout=300)
    assert proc.returncode != 0 and 'student.nothing.' in proc.stderr
