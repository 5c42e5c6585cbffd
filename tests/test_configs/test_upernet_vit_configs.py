"""Shipped ViT-B/L/H UperNet base configs: parameter counts of S5_REFERENCE."""
import copy

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

import s5_mm  # noqa: F401

SEG_CLASSES = [6, 6, 7, 8]  # Vaihingen, Potsdam, LoveDA, OpenEarthMap


def millions(module):
    return sum(p.numel() for p in module.parameters()) / 1e6


def load_model_cfg(size):
    cfg = Config.fromfile(f'configs/_base_/models/upernet_vit-{size}16.py')
    return copy.deepcopy(cfg.model)


def build_on_meta(cfg):
    # mmseg's VisionTransformer calls .item() while building, which the meta
    # device refuses; a one-dataset MoEViT has exactly the same parameters
    # (tests/test_models/test_backbones/test_moe_vit.py::test_parameter_count_formula).
    init_default_scope('mmseg')
    if cfg['type'] == 'VisionTransformer':
        cfg = dict(cfg, type='MoEViT', dataset_names=['x'],
                   expert_channels=256)
    with torch.device('meta'):
        return MODELS.build(cfg)


@pytest.mark.parametrize('size,backbone,neck,head,total', [
    ('b', 86.43, 7.08, 9.64, 103.2),
    ('l', 304.15, 12.59, 10.69, 327.4),
    # S5_REFERENCE's 631.97 omits the 1,280 patch-embedding biases that the
    # MAE / S5 checkpoints have (patch_bias=True): 631.9746 + 0.0013.
    ('h', 631.98, 19.67, 11.74, None),
])
def test_single_model_counts(size, backbone, neck, head, total):
    cfg = load_model_cfg(size)
    parts = [
        millions(build_on_meta(cfg[key]))
        for key in ('backbone', 'neck', 'decode_head')
    ]
    assert [round(p, 2) for p in parts] == [backbone, neck, head]
    if total is not None:
        assert round(sum(parts), 1) == total


@pytest.mark.parametrize('size,p,total', [
    ('b', 256, 160.4),
    ('b', 512, 188.7),
    ('l', 256, 435.0),
    ('h', 256, 824.5),
])
def test_moe_mdf_counts(size, p, total):
    cfg = load_model_cfg(size)
    backbone = build_on_meta(
        dict(cfg.backbone, type='MoEViT', expert_channels=p,
             dataset_names=['vaihingen', 'potsdam', 'loveda', 'oem']))
    count = millions(backbone) + millions(build_on_meta(cfg.neck))
    for num_classes in SEG_CLASSES:
        count += millions(
            build_on_meta(dict(cfg.decode_head, num_classes=num_classes)))
    assert round(count, 1) == total


def test_paper_backbone_settings():
    for size, dims, depth, heads, out in [
        ('b', 768, 12, 12, (3, 5, 7, 11)),
        ('l', 1024, 24, 16, (7, 11, 15, 23)),
        ('h', 1280, 32, 16, (15, 23, 27, 31)),
    ]:
        cfg = load_model_cfg(size)
        bb = cfg.backbone
        assert (bb.embed_dims, bb.num_layers, bb.num_heads) == (dims, depth,
                                                                heads)
        assert tuple(bb.out_indices) == out
        assert bb.patch_size == 16 and bb.mlp_ratio == 4 and bb.qkv_bias
        assert cfg.neck.rescales == [4, 2, 1, 0.5]
        assert cfg.decode_head.channels == 256
        assert cfg.decode_head.in_channels == [dims] * 4
