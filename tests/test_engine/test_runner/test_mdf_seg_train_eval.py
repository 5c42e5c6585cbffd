"""Tiny MoE-MDF run through mmengine's Runner: training with the
multi-source sampler, per-dataset validation (save_best on the mean), and
per-dataset test metrics equal to a hand computation from the confusion
matrices."""
import glob
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.registry import DATASETS, init_default_scope

import s5_mm  # noqa: F401
from mdf_seg_utils import NAMES, NUM_CLASSES

pytestmark = pytest.mark.xdist_group('trained_moe_mdf')  # its session fixture


def hand_metrics(model, dataset_cfg, num_classes):
    """mIoU, mFscore (x100) of the model on a dataset, from the confusion
    matrix accumulated over its images."""
    init_default_scope('mmseg')  # an earlier test may have left mmrotate's
    dataset = DATASETS.build(dataset_cfg)
    conf = np.zeros((num_classes, num_classes), dtype=np.int64)
    for i in range(len(dataset)):
        with torch.no_grad():
            out = model.test_step(pseudo_collate([dataset[i]]))[0]
        pred = out.pred_sem_seg.data[0].numpy().ravel()
        gt = out.gt_sem_seg.data[0].numpy().ravel()
        keep = gt != 255
        conf += np.bincount(gt[keep] * num_classes + pred[keep],
                            minlength=num_classes**2).reshape(
                                num_classes, num_classes)
    # like mmseg's IoUMetric, a class with 0/0 gets NaN and is left out of
    # the mean (for F1 that includes classes without any true positive)
    tp = np.diag(conf).astype(float)
    gt_area, pred_area = conf.sum(1), conf.sum(0)
    with np.errstate(divide='ignore', invalid='ignore'):
        iou = tp / (gt_area + pred_area - tp)
        precision, recall = tp / pred_area, tp / gt_area
        fscore = 2 * precision * recall / (precision + recall)
    return dict(mIoU=np.nanmean(iou) * 100, mFscore=np.nanmean(fscore) * 100,
                n=len(dataset))


def test_train_and_save_best(trained_moe_mdf):
    cfg, runner = trained_moe_mdf[:2]
    assert runner.iter == 4
    # the per-dataset val ran and the CheckpointHook kept the best `mean`
    best = glob.glob(osp.join(cfg.work_dir, 'best_mean_iter_*.pth'))
    assert len(best) == 1
    ckpt = torch.load(best[0], map_location='cpu', weights_only=True)
    assert 'decode_heads.openearthmap.conv_seg.weight' in ckpt['state_dict']
    # the ConcatDataset's metainfo lists each dataset's classes
    metas = ckpt['meta']['dataset_meta']
    assert [len(m['classes']) for m in metas] == [6, 6, 7, 8]
    # layer-wise lr decay 0.9 of the shipped config: with the tiny ViT's 4
    # layers the patch embedding learns at 0.9 ** 5 of the heads' lr
    lrs = [g['initial_lr'] for g in runner.optim_wrapper.param_groups]
    assert max(lrs) == pytest.approx(1e-3)
    assert min(lrs) == pytest.approx(1e-3 * 0.9**5)


def test_batches_have_fixed_composition(trained_moe_mdf):
    cfg, runner = trained_moe_mdf[:2]
    loader = runner.train_dataloader
    it = iter(loader)
    for _ in range(3):
        batch = next(it)
        names = [s.metainfo['dataset_name'] for s in batch['data_samples']]
        assert names == NAMES  # one crop of each dataset, in config order


def test_per_dataset_metrics_equal_hand_computation(trained_moe_mdf):
    cfg, runner = trained_moe_mdf[:2]
    # the latest runner's scope is the current one (the detection runner
    # test runs just before): test in this run's mmseg scope
    init_default_scope('mmseg')
    metrics = runner.test()
    model = runner.model
    model.eval()
    expected = {}
    for ds_cfg, name in zip(cfg.test_dataloader.dataset.datasets, NAMES):
        hand = hand_metrics(model, ds_cfg, NUM_CLASSES[name])
        key = 'mFscore' if name == 'potsdam' else 'mIoU'
        expected[f'{name}/{key}'] = hand[key]
        assert metrics[f'{name}/{key}'] == pytest.approx(hand[key], abs=0.006)
    assert {'vaihingen/aAcc', 'potsdam/mPrecision', 'loveda/mAcc'} <= set(
        metrics)
    values = [metrics[k] for k in expected]
    assert metrics['mean'] == pytest.approx(sum(values) / 4)
