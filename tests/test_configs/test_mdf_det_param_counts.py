"""Parameter counts of the shipped detection configs (S5 paper, in M, to
0.05M), counted with parameters on the meta device (nothing allocated)."""
import os.path as osp

import pytest
from mmengine.config import Config
from mmrotate.registry import MODELS

from mdf_det_meta import count_parameters, parameters_on_meta

CASES = [
    ('sdf_vit-b_oriented-rcnn-le90_8xb2-12e_dior-r-1024x1024.py', 111.2),
    ('sdf_vit-b_oriented-rcnn-le90_8xb2-12e_dota2-1024x1024.py', 111.2),
    ('moe-mdf-p256_vit-b_oriented-rcnn-le90_8xb2-12e_dior-r-dota2-'
     '1024x1024.py', 138.3),
    ('moe-mdf-p256_vit-l_oriented-rcnn-le90_8xb2-12e_dior-r-dota2-'
     '1024x1024.py', 377.8),
    ('moe-mdf-p256_vit-h_oriented-rcnn-le90_8xb2-12e_dior-r-dota2-'
     '1024x1024.py', 730.0),
]


def _build(repo_root, name):
    cfg = Config.fromfile(osp.join(repo_root, 'configs', 'mdf_det', name))
    with parameters_on_meta():
        return MODELS.build(cfg.model), cfg


@pytest.mark.parametrize('name, millions', CASES)
def test_parameter_count(moe_cfg, repo_root, name, millions):
    model, cfg = _build(repo_root, name)
    assert all(p.is_meta for p in model.parameters())
    assert count_parameters(model) / 1e6 == pytest.approx(millions, abs=0.05)
    # layer-wise lr decay is set for the real depth of the ViT
    assert cfg.optim_wrapper.paramwise_cfg.num_layers == \
        cfg.model.backbone.num_layers


def test_count_decomposition(moe_cfg, repo_root):
    """S5_REFERENCE decomposition: FPN 3.15, RPN 0.60, RoI 13.92 (20 cls)
    per dataset; MoE-MDF adds a branch (17.66) and one expert per layer."""
    sdf, _ = _build(repo_root, CASES[0][0])
    moe, _ = _build(repo_root, CASES[2][0])
    branch = sdf.branches['dior']
    assert count_parameters(branch.neck) == 3_147_776
    assert count_parameters(branch.rpn_head) == 595_477
    assert count_parameters(branch.roi_head) == 13_922_330
    expert = 3072 * 256 + 256
    extra = count_parameters(moe) - count_parameters(sdf)
    assert extra == count_parameters(moe.branches['dota']) + 12 * expert
    assert sorted(moe.branches) == ['dior', 'dota']
