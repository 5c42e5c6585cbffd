"""Fixtures of the detection MDF tests: tiny configs shrunk from the shipped
MoE-MDF config, the bundled DOTA patches and DIOR-R image."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope

MOE_CFG = ('configs/mdf_det/moe-mdf-p256_vit-b_oriented-rcnn-le90_8xb2-12e_'
           'dior-r-dota2-1024x1024.py')
SIZE = 128  # images are resized to 128 px; ViT pos embed is sized for 64


def tiny_model_cfg(cfg: Config) -> dict:
    """The shipped model shrunk: ViT 4 layers x 64 dims (pos embed for 64 px
    input, so it is resized on the fly for 128 px), 32-channel FPN."""
    model = copy.deepcopy(cfg.model)
    model.backbone.update(
        img_size=(SIZE // 2, SIZE // 2), embed_dims=64, num_layers=4,
        num_heads=4, out_indices=(0, 1, 2, 3), drop_path_rate=0.0)
    if 'expert_channels' in model.backbone:
        model.backbone.expert_channels = 16
    model.neck.update(embed_dim=64, norm_cfg=dict(type='BN'))
    model.branch_neck.update(in_channels=[64] * 4, out_channels=32)
    model.rpn_head.update(in_channels=32, feat_channels=32)
    model.roi_head.bbox_roi_extractor.out_channels = 32
    model.roi_head.bbox_head.update(in_channels=32, fc_out_channels=64)
    model.train_cfg.rpn_proposal.update(nms_pre=200, max_per_img=100)
    model.train_cfg.rcnn.sampler.num = 64
    model.test_cfg.rpn.update(nms_pre=200, max_per_img=100)
    model.test_cfg.rcnn.max_per_img = 100
    return model


def tiny_pipelines(cfg: Config) -> Config:
    """Shipped pipelines with 128 px resizing, flips off (deterministic)."""
    for key in ('dior_train_pipeline', 'dota_train_pipeline',
                'dior_test_pipeline', 'dota_test_pipeline'):
        for t in cfg.get(key, []):
            if t['type'] == 'mmdet.Resize':
                t['scale'] = (SIZE, SIZE)
            if t['type'] == 'mmdet.RandomFlip':
                t['prob'] = 0.0
    return cfg


@pytest.fixture(scope='session')
def moe_cfg_loaded(repo_root):
    """The shipped MoE-MDF detection config, read once per run."""
    import s5_mm  # noqa: F401
    return Config.fromfile(osp.join(repo_root, MOE_CFG))


@pytest.fixture
def moe_cfg(moe_cfg_loaded):
    """The shipped MoE-MDF detection config, with mmrotate as the default
    scope (set for every test: tests of other packages set mmseg's)."""
    init_default_scope('mmrotate')
    return moe_cfg_loaded


def datasets(cfg: Config, data_root, test_mode: bool = False) -> dict:
    """The bundled DIOR-R image and DOTA patches with the shipped pipelines
    (resized to 128 px), keyed by dataset name."""
    from mmrotate.registry import DATASETS
    cfg = tiny_pipelines(copy.deepcopy(cfg))
    stage = 'test' if test_mode else 'train'
    dior = dict(
        type='DIORDataset',
        data_root=osp.join(data_root, 'dior'),
        ann_file='demo.txt',
        data_prefix=dict(img_path='JPEGImage'),
        test_mode=test_mode,
        pipeline=cfg[f'dior_{stage}_pipeline'])
    dota = dict(
        type='StrictDOTAv2Dataset',
        data_root=osp.join(data_root, 'dota_split'),
        ann_file='labelTxt/',
        data_prefix=dict(img_path='images/'),
        filter_cfg=dict(filter_empty_gt=False),
        test_mode=test_mode,
        pipeline=cfg[f'dota_{stage}_pipeline'])
    return dict(dior=DATASETS.build(dior), dota=DATASETS.build(dota))


def batch(samples: list) -> dict:
    return pseudo_collate(samples)


@pytest.fixture(scope='session')
def train_sets(moe_cfg_loaded, data_root):
    init_default_scope('mmrotate')
    return datasets(moe_cfg_loaded, data_root)


@pytest.fixture(scope='session')
def test_sets(moe_cfg_loaded, data_root):
    init_default_scope('mmrotate')
    return datasets(moe_cfg_loaded, data_root, test_mode=True)


@pytest.fixture
def tiny_moe_model(moe_cfg):
    from mmrotate.registry import MODELS
    torch.manual_seed(0)
    return MODELS.build(tiny_model_cfg(moe_cfg))
