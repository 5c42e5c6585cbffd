"""The shipped fine-tuning configs' backbone initialisation: an S4P
(FixMatchSegmentor) checkpoint, its backbone extracted with
extract_backbone.py --strip-prefix, loads into the plain ViT of MDF and the
MoEViT of MoE-MDF (shared fc2 = first C - P rows, every expert = the last
P rows)."""
import copy

import torch
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

import s5_mm  # noqa: F401
from mdf_seg_utils import make_openearthmap, tiny_cfg
from script_runner import run_script


def test_s4p_backbone_initialises_mdf_and_moe_mdf(tmp_path, repo_root):
    oem = make_openearthmap(str(tmp_path / 'oem'))
    moe_cfg, mdf_cfg = tiny_cfg(oem), tiny_cfg(oem, moe=False)
    assert mdf_cfg.model.backbone.init_cfg is None  # tiny_cfg drops it
    init_default_scope('mmseg')
    torch.manual_seed(1)
    dense = MODELS.build(copy.deepcopy(mdf_cfg.model.backbone))
    s4p = {f'student.backbone.{k}': v for k, v in dense.state_dict().items()}
    s4p['student.decode_head.conv_seg.weight'] = torch.zeros(1)
    torch.save({'state_dict': s4p, 'meta': {}}, tmp_path / 's4p.pth')
    out = tmp_path / 's4p_backbone.pth'
    proc = run_script(
        ['tools/model_converters/extract_backbone.py',
         str(tmp_path / 's4p.pth'), str(out), '--strip-prefix'],
        cwd=repo_root, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]

    shipped_init = dict(type='Pretrained', checkpoint=str(out))
    for cfg in (mdf_cfg, moe_cfg):
        cfg.model.backbone.init_cfg = shipped_init
        torch.manual_seed(2)
        model = MODELS.build(copy.deepcopy(cfg.model))
        model.init_weights()
        own = model.backbone.state_dict()
        for key, value in dense.state_dict().items():
            if cfg is moe_cfg and key.endswith(('ffn.layers.1.weight',
                                                'ffn.layers.1.bias')):
                continue  # split fc2, checked below
            assert torch.equal(own[key], value), key
        if cfg is moe_cfg:
            p = cfg.model.backbone.expert_channels
            for i, layer in enumerate(model.backbone.layers):
                for name in ('weight', 'bias'):
                    fc2 = dense.state_dict()[f'layers.{i}.ffn.layers.1.{name}']
                    ffn = layer.ffn
                    assert torch.equal(getattr(ffn.shared_fc, name), fc2[:-p])
                    for expert in ffn.experts:
                        assert torch.equal(getattr(expert, name), fc2[-p:])
        else:
            assert set(own) == set(dense.state_dict())
