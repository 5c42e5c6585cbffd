"""Tiny MDF segmentation configs shrunk from the shipped ones, and a tiny
synthetic OpenEarthMap (there is no real OpenEarthMap sample)."""
import copy
import os
import os.path as osp

import numpy as np
from mmengine.config import Config
from PIL import Image

MOE_CFG = 'configs/mdf_seg/moe-mdf-p256_vit-b_upernet_8xb12-100e_rsseg4-512x512.py'
MDF_CFG = 'configs/mdf_seg/mdf_vit-b_upernet_8xb12-100e_rsseg4-512x512.py'
NAMES = ['vaihingen', 'potsdam', 'loveda', 'openearthmap']
NUM_CLASSES = dict(vaihingen=6, potsdam=6, loveda=7, openearthmap=8)
SIZE = 64
GN = dict(type='GN', num_groups=4, requires_grad=True)


def make_openearthmap(root: str, num: int = 2, seed: int = 0) -> str:
    """mmseg-layout OpenEarthMap with ``num`` random 64x64 images per split
    (labels 0..8, 0 = unknown)."""
    rng = np.random.default_rng(seed)
    for split in ('train', 'val'):
        for kind in ('img_dir', 'ann_dir'):
            os.makedirs(osp.join(root, kind, split), exist_ok=True)
        for i in range(num):
            img = rng.integers(0, 255, (SIZE, SIZE, 3), dtype=np.uint8)
            lab = rng.integers(0, 9, (SIZE, SIZE), dtype=np.uint8)
            Image.fromarray(img).save(
                osp.join(root, 'img_dir', split, f'{i}.png'))
            Image.fromarray(lab).save(
                osp.join(root, 'ann_dir', split, f'{i}.png'))
    return root


def _shrink_pipeline(pipeline: list, train: bool) -> list:
    """Resize images to 64 px (labels too when training; at test time they
    stay at full size, as predictions are resized back)."""
    after = ('LoadAnnotationsChecked', ) if train else (
        'LoadImageChecked', 'LoadImageFromFile')
    out = []
    for t in copy.deepcopy(pipeline):
        if t['type'] == 'Resize':
            continue
        if t['type'] == 'RandomCrop':
            t['crop_size'] = (SIZE, SIZE)
        out.append(t)
        if t['type'] in after:
            out.append(dict(type='Resize', scale=(SIZE, SIZE),
                            keep_ratio=False))
    return out


def _shrink_dataset(ds: dict, oem_root: str, train: bool) -> dict:
    ds = copy.deepcopy(ds)
    name = ds['pipeline'][-1]['name']
    if name == 'openearthmap':
        split = 'train' if train else 'val'
        ds['data_root'] = oem_root
        ds['data_prefix'] = dict(img_path=f'img_dir/{split}',
                                 seg_map_path=f'ann_dir/{split}')
    else:
        ds['data_root'] = f'tests/data/{name}'
        ds['data_prefix'] = dict(img_path='img_dir', seg_map_path='ann_dir')
    ds['pipeline'] = _shrink_pipeline(ds['pipeline'], train)
    return ds


def tiny_cfg(oem_root: str, moe: bool = True, work_dir: str = None,
             max_iters: int = 4) -> Config:
    """The shipped (MoE-)MDF config with a tiny ViT (64 dims, 4 layers,
    patch 8, 64 px), GroupNorm (batch-independent), one crop per dataset
    per batch, the bundled data and a synthetic OpenEarthMap."""
    cfg = Config.fromfile(MOE_CFG if moe else MDF_CFG)
    model = cfg.model
    model.data_preprocessor.size = (SIZE, SIZE)
    model.backbone.update(
        img_size=(SIZE, SIZE), patch_size=8, embed_dims=64, num_layers=4,
        num_heads=4, out_indices=(0, 1, 2, 3), drop_path_rate=0.0,
        init_cfg=None)
    if moe:
        model.backbone.expert_channels = 16
    model.neck.update(embed_dim=64, norm_cfg=GN)
    for head in model.decode_heads.values():
        head.update(in_channels=[64] * 4, channels=16, norm_cfg=GN,
                    dropout_ratio=0.0)
    cfg.optim_wrapper.paramwise_cfg.num_layers = 4
    for loader, train in ((cfg.train_dataloader, True),
                          (cfg.val_dataloader, False),
                          (cfg.test_dataloader, False)):
        loader.num_workers = 0
        loader.persistent_workers = False
        loader.dataset.datasets = [
            _shrink_dataset(d, oem_root, train)
            for d in loader.dataset.datasets
        ]
    cfg.train_dataloader.batch_size = 4
    cfg.train_dataloader.sampler.batch_size = 4
    cfg.train_dataloader.sampler.seed = 0
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters,
                         val_interval=max_iters)
    cfg.param_scheduler = [
        dict(type='CosineAnnealingLR', eta_min=0.0, begin=0, end=max_iters,
             by_epoch=False)
    ]
    cfg.optim_wrapper.optimizer.lr = 1e-3
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', by_epoch=False, interval=max_iters,
        save_best='mean', rule='greater')
    cfg.default_hooks.logger.interval = 1
    cfg.env_cfg = dict(cudnn_benchmark=False,
                       mp_cfg=dict(mp_start_method='fork',
                                   opencv_num_threads=0),
                       dist_cfg=dict(backend='gloo'))
    cfg.randomness = dict(seed=0)
    if work_dir is not None:
        cfg.work_dir = work_dir
    return cfg
