"""The shipped MoE-MDF config, shrunk, through mmengine's Runner: mmdet's
MultiSourceSampler (1 DIOR-R + 1 DOTA image per batch), layer-wise lr decay,
2 training iterations and a validation with per-dataset DOTA mAP.

The logged mAP of each dataset must equal mmrotate's ``DOTAMetric``
computed here on the trained model's own predictions, image by image, on
that dataset's validation data."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.evaluator import Evaluator
from mmengine.runner import Runner

from mdf_det_common import tiny_model_cfg, tiny_pipelines

# a 2-iteration model reaches no IoU of 0.5 (mAP 0 everywhere, which any
# wrong evaluation also gives): validation and the recomputation match at
# IoU 0.05, where its DOTA mAP is above 0 (asserted)
IOU = 0.05


def _tiny_runner_cfg(cfg, data_root, work_dir):
    cfg = tiny_pipelines(copy.deepcopy(cfg))
    cfg.model = tiny_model_cfg(cfg)
    cfg.model.test_cfg.rcnn.score_thr = 0.0
    train_sets, val_sets = cfg.train_dataloader.dataset.datasets, \
        cfg.val_dataloader.dataset.datasets
    dior = dict(data_root=osp.join(data_root, 'dior'), ann_file='demo.txt',
                data_prefix=dict(img_path='JPEGImage'))
    dota = dict(data_root=osp.join(data_root, 'dota_split'),
                ann_file='labelTxt/', data_prefix=dict(img_path='images/'),
                filter_cfg=dict(filter_empty_gt=False))
    # DIOR-R trainval is a ConcatDataset of train + val in the shipped config
    train_sets[0] = dict(train_sets[0].datasets[0], **dior,
                         pipeline=cfg.dior_train_pipeline)
    train_sets[1].update(dota, pipeline=cfg.dota_train_pipeline)
    val_sets[0].update(dior, pipeline=cfg.dior_test_pipeline)
    val_sets[1].update(dota, pipeline=cfg.dota_test_pipeline)
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        loader.update(num_workers=0, persistent_workers=False)
    cfg.train_dataloader.batch_size = 2
    cfg.train_dataloader.sampler.update(batch_size=2, seed=0)
    cfg.val_dataloader.batch_size = 2
    cfg.train_cfg.update(max_iters=2, val_interval=2)
    cfg.optim_wrapper.type = 'OptimWrapper'  # AMP needs a GPU
    cfg.optim_wrapper.paramwise_cfg.num_layers = \
        cfg.model.backbone.num_layers
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.interval = 2
    cfg.test_dataloader = cfg.test_evaluator = cfg.test_cfg = None
    cfg.val_evaluator.metric.iou_thrs = IOU
    cfg.work_dir = str(work_dir)
    cfg.launcher = 'none'
    cfg.randomness = dict(seed=0)
    cfg.env_cfg.dist_cfg = dict(backend='gloo')
    return cfg


@torch.no_grad()
def dota_map(model, dataset_cfg) -> float:
    """mAP (IoU ``IOU``) of mmrotate's ``DOTAMetric`` on the model's
    predictions of every image of the dataset, one image per forward."""
    from mmrotate.registry import DATASETS
    dataset = DATASETS.build(copy.deepcopy(dataset_cfg))
    evaluator = Evaluator(dict(type='mmrotate.DOTAMetric', metric='mAP',
                               iou_thrs=IOU))
    evaluator.dataset_meta = dataset.metainfo
    model.eval()
    for i in range(len(dataset)):
        batch = pseudo_collate([dataset[i]])
        evaluator.process(model.test_step(batch), batch)
    return evaluator.evaluate(len(dataset))['dota/mAP']


def test_train_and_validate(moe_cfg, data_root, tmp_path):
    cfg = _tiny_runner_cfg(moe_cfg, data_root, tmp_path)
    val_sets = copy.deepcopy(cfg.val_dataloader.dataset.datasets)
    runner = Runner.from_cfg(cfg)
    model = runner.train()
    # layer-wise decay: patch embedding gets a smaller lr than the heads
    lrs = {id(p): g['lr'] for g in runner.optim_wrapper.param_groups
           for p in g['params']}
    patch_lr = lrs[id(model.backbone.patch_embed.projection.weight)]
    head_lr = lrs[id(model.branches['dota'].roi_head.bbox_head.fc_cls.weight)]
    assert patch_lr < head_lr
    scalars = runner.message_hub.log_scalars
    for name, val_set in zip(('dior', 'dota'), val_sets):
        assert f'train/{name}/loss_cls' in scalars
        assert f'val/{name}/mAP' in scalars
        value = scalars[f'val/{name}/mAP'].current()
        assert 0.0 <= value <= 1.0
        assert value == pytest.approx(dota_map(model, val_set), abs=1e-6)
    assert scalars['val/dota/mAP'].current() > 0, 'mAP 0 proves nothing'
    assert osp.exists(osp.join(tmp_path, 'iter_2.pth'))


def test_single_dataset_config_trains_and_validates(repo_root, moe_cfg,
                                                    data_root, tmp_path):
    """The SDF DOTA-v2 config, shrunk: epoch-based, plain ViT, mmrotate's
    DOTAMetric reporting dota/mAP."""
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(
        repo_root, 'configs/mdf_det/sdf_vit-b_oriented-rcnn-le90_8xb2-12e_'
        'dota2-1024x1024.py'))
    cfg = tiny_pipelines(cfg)
    cfg.model = tiny_model_cfg(cfg)
    root = osp.join(data_root, 'dota_split')
    for loader, key in ((cfg.train_dataloader, 'dota_train_pipeline'),
                        (cfg.val_dataloader, 'dota_test_pipeline')):
        loader.dataset.update(
            data_root=root, ann_file='labelTxt/',
            data_prefix=dict(img_path='images/'), pipeline=cfg[key])
        loader.update(num_workers=0, persistent_workers=False)
    cfg.train_cfg.max_epochs = 1
    cfg.optim_wrapper.type = 'OptimWrapper'
    cfg.optim_wrapper.paramwise_cfg.num_layers = \
        cfg.model.backbone.num_layers
    cfg.test_dataloader = cfg.test_evaluator = cfg.test_cfg = None
    cfg.val_evaluator.iou_thrs = IOU
    cfg.work_dir = str(tmp_path)
    cfg.randomness = dict(seed=0)
    val_set = copy.deepcopy(cfg.val_dataloader.dataset)
    runner = Runner.from_cfg(cfg)
    model = runner.train()
    # filter_empty_gt drops the patch without objects: 3 patches, batch 2
    assert len(runner.train_dataloader.dataset) == 3
    assert runner.iter == 2
    scalars = runner.message_hub.log_scalars
    assert 'train/dota/loss_cls' in scalars
    value = scalars['val/dota/mAP'].current()
    assert 0.0 < value <= 1.0, 'mAP 0 proves nothing'
    assert value == pytest.approx(dota_map(model, val_set), abs=1e-6)
