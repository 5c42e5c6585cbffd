"""tools/model_converters/extract_backbone.py: the student's or the EMA
teacher's backbone of an S4P checkpoint loads as the pretrained weights of a
plain ViT or of an MoEViT fine-tuning model."""
import copy

import torch
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

from s4p_utils import build_model
from script_runner import run_script


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
