"""MultiDatasetValLoop / MultiDatasetEvaluator: clear errors for
inconsistent configs, and visualisation with each dataset's palette."""
import copy
import glob
import os.path as osp

import pytest
import torch
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

import s5_mm  # noqa: F401
from mdf_seg_utils import make_openearthmap, tiny_cfg
from s5_mm.evaluation.multi_dataset_metrics import MultiDatasetEvaluator


@pytest.fixture(scope='module')
def cfg(tmp_path_factory):
    root = tmp_path_factory.mktemp('loops')
    cfg = tiny_cfg(make_openearthmap(str(root / 'oem')),
                   work_dir=str(root / 'work'))
    # two datasets are enough here
    cfg.val_dataloader.dataset.datasets = \
        cfg.val_dataloader.dataset.datasets[:2]
    cfg.val_evaluator.metrics = {
        k: cfg.val_evaluator.metrics[k] for k in ('vaihingen', 'potsdam')}
    cfg.val_evaluator.mean_of = dict(vaihingen='mIoU', potsdam='mFscore')
    # runner.val() alone: no save_best (mmengine sets that up in train)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1)
    return cfg


def val(cfg):
    runner = Runner.from_cfg(copy.deepcopy(cfg))
    return runner.val()


def test_val_of_two_datasets_and_drawn_palettes(cfg, tmp_path):
    cfg = copy.deepcopy(cfg)
    cfg.work_dir = str(tmp_path)
    cfg.default_hooks.visualization = dict(
        type='SegVisualizationHook', draw=True, interval=1)
    # a new visualizer instance (they are global, by name) saving here
    cfg.visualizer.name = f'vis_{osp.basename(str(tmp_path))}'

    metrics = val(cfg)
    assert set(metrics) == {
        'vaihingen/aAcc', 'vaihingen/mIoU', 'vaihingen/mAcc', 'potsdam/aAcc',
        'potsdam/mFscore', 'potsdam/mPrecision', 'potsdam/mRecall', 'mean'
    }
    assert metrics['mean'] == pytest.approx(
        (metrics['vaihingen/mIoU'] + metrics['potsdam/mFscore']) / 2)
    drawn = glob.glob(osp.join(str(tmp_path), '*', 'vis_data', 'vis_image',
                               '*.png'))
    assert len(drawn) == 2  # one image of each dataset


def test_dataset_without_set_dataset_name(cfg):
    bad = copy.deepcopy(cfg)
    bad.val_dataloader.dataset.datasets[1].pipeline.pop(-1)
    with pytest.raises(ValueError, match='val dataset 1 .*PotsdamDataset.*'
                       'has no SetDatasetName'):
        val(bad)


def test_dataset_without_metrics(cfg):
    bad = copy.deepcopy(cfg)
    del bad.val_evaluator.metrics['potsdam']
    bad.val_evaluator.mean_of = dict(vaihingen='mIoU')
    with pytest.raises(KeyError, match="val dataset 'potsdam' has no metrics"):
        val(bad)


def test_class_count_mismatch(cfg):
    bad = copy.deepcopy(cfg)
    # a subset of ISPRS classes is valid for the dataset, not for the head
    bad.val_dataloader.dataset.datasets[0].metainfo = dict(
        classes=('impervious_surface', 'building', 'low_vegetation'))
    with pytest.raises(ValueError, match="dataset 'vaihingen' has 3 classes"):
        val(bad)


def test_evaluator_needs_the_loop_and_known_names():
    init_default_scope('mmseg')
    evaluator = MultiDatasetEvaluator(
        metrics=dict(a=dict(type='IoUMetric')), mean_of=dict(a='mIoU'))
    with pytest.raises(RuntimeError, match='MultiDatasetValLoop'):
        evaluator.evaluate(3)
    sample = SegDataSample(metainfo=dict(dataset_name='b', img_path='x.png'))
    sample.pred_sem_seg = PixelData(data=torch.zeros(1, 2, 2))
    with pytest.raises(KeyError, match="dataset 'b'.*metrics\\['b'\\]"):
        evaluator.process([sample])
    with pytest.raises(KeyError, match='mean_of names datasets'):
        MultiDatasetEvaluator(metrics=dict(a=dict(type='IoUMetric')),
                              mean_of=dict(b='mIoU'))


def test_dataset_name_of_nested_concat(cfg):
    from mmseg.registry import DATASETS

    from s5_mm.engine.runner import dataset_name_of
    init_default_scope('mmseg')
    vaihingen, potsdam = cfg.val_dataloader.dataset.datasets
    nested = DATASETS.build(
        dict(type='ConcatDataset', datasets=[vaihingen, vaihingen]))
    assert dataset_name_of(nested) == 'vaihingen'
    mixed = DATASETS.build(
        dict(type='ConcatDataset', datasets=[vaihingen, potsdam]))
    with pytest.raises(ValueError, match=r"named \['potsdam', 'vaihingen'\]"):
        dataset_name_of(mixed, 'val dataset 0')


def test_evaluator_output_dir_per_dataset(tmp_path):
    """tools/test.py --out sets output_dir (and keep_results): each
    dataset's metric writes under its own sub-folder."""
    init_default_scope('mmseg')
    evaluator = MultiDatasetEvaluator(
        metrics=dict(a=dict(type='IoUMetric'),
                     b=[dict(type='IoUMetric', iou_metrics=['mFscore'])]),
        output_dir=str(tmp_path), keep_results=True)
    dirs = {n: [m.output_dir for m in e.metrics]
            for n, e in evaluator.evaluators.items()}
    assert dirs == dict(a=[osp.join(str(tmp_path), 'a')],
                        b=[osp.join(str(tmp_path), 'b')])
