"""MultiDatasetValLoop / MultiDatasetEvaluator: clear errors for
inconsistent configs, and visualisation with each dataset's palette."""
import copy
import glob
import os.path as osp
import re

import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmengine.structures import PixelData
from mmseg.datasets import ISPRSDataset, LoveDADataset, PotsdamDataset
from mmseg.structures import SegDataSample
from PIL import Image

import s5_mm  # noqa: F401
from mdf_seg_utils import make_openearthmap, tiny_cfg
from s5_mm.evaluation.multi_dataset_metrics import MultiDatasetEvaluator


@pytest.fixture(scope='module')
def full_cfg(tmp_path_factory):
    """The tiny config with its four datasets."""
    root = tmp_path_factory.mktemp('loops')
    return tiny_cfg(make_openearthmap(str(root / 'oem')),
                    work_dir=str(root / 'work'))


@pytest.fixture(scope='module')
def cfg(full_cfg):
    cfg = copy.deepcopy(full_cfg)
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


def _blend(img: np.ndarray, labels: np.ndarray, palette: list,
           alpha: float) -> np.ndarray:
    """``img * (1 - alpha) + colour * alpha`` (truncated to uint8), colour =
    ``palette[label]``, black where the label is not a class (ignored)."""
    colours = np.zeros((256, 3), np.uint8)
    colours[:len(palette)] = palette
    return (img * (1 - alpha) + colours[labels] * alpha).astype(np.uint8)


def _gt_of(ann_path: str) -> np.ndarray:
    """The label map as the test pipelines load it (reduce_zero_label)."""
    raw = np.array(Image.open(ann_path)).astype(np.int64)
    return np.where(raw == 0, 255, raw - 1)


def _check_drawn(drawn: np.ndarray, img: np.ndarray, labels: np.ndarray,
                 palette: list, alpha: float, what: str) -> None:
    """Every pixel is the image blended with a palette colour, white
    (label text) or black (ignored pixels, label box borders); each class
    covering >= 1% of the picture is drawn, on most of its pixels, blended
    with ITS palette colour."""
    expected = _blend(img, labels, palette, alpha)
    match = (drawn == expected).all(-1)
    allowed = np.zeros(match.shape, bool)
    flat = np.zeros(labels.shape, np.int64)
    for colour in list(palette) + [[255, 255, 255], [0, 0, 0]]:
        allowed |= (drawn == _blend(img, flat, [colour], alpha)).all(-1)
    assert allowed.all(), (
        f'{what}: {(~allowed).sum()} pixels are not the image blended with '
        'a colour of the palette, white or black')
    for k in range(len(palette)):
        region = labels == k
        if region.mean() >= 0.01:
            assert match[region].mean() > 0.5, (
                f'{what}: class {k} is drawn with palette[{k}]='
                f'{palette[k]} on only {match[region].mean():.1%} of its '
                'pixels')
    assert match.mean() > 0.85, f'{what}: {match.mean():.1%} of pixels match'


def test_val_of_datasets_and_drawn_palettes(full_cfg, tmp_path):
    """Vaihingen, Potsdam and LoveDA (a palette unlike the ISPRS one): each
    drawn picture (ground truth | prediction) is the image blended with ITS
    dataset's palette of the label file and of the model's own prediction."""
    cfg = copy.deepcopy(full_cfg)
    names = ('vaihingen', 'potsdam', 'loveda')
    cfg.val_dataloader.dataset.datasets = \
        cfg.val_dataloader.dataset.datasets[:3]
    cfg.val_dataloader.dataset.datasets[2].indices = [1]  # one LoveDA image
    cfg.val_evaluator.metrics = {
        k: cfg.val_evaluator.metrics[k] for k in names}
    cfg.val_evaluator.mean_of = dict(
        vaihingen='mIoU', potsdam='mFscore', loveda='mIoU')
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1)
    cfg.work_dir = str(tmp_path)
    cfg.default_hooks.visualization = dict(
        type='SegVisualizationHook', draw=True, interval=1)
    # a new visualizer instance (they are global, by name) saving here
    cfg.visualizer.name = f'vis_{osp.basename(str(tmp_path))}'

    runner = Runner.from_cfg(cfg)
    metrics = runner.val()
    assert set(metrics) == {
        'vaihingen/aAcc', 'vaihingen/mIoU', 'vaihingen/mAcc', 'potsdam/aAcc',
        'potsdam/mFscore', 'potsdam/mPrecision', 'potsdam/mRecall',
        'loveda/aAcc', 'loveda/mIoU', 'loveda/mAcc', 'mean'
    }
    assert metrics['mean'] == pytest.approx(
        (metrics['vaihingen/mIoU'] + metrics['potsdam/mFscore'] +
         metrics['loveda/mIoU']) / 3)
    drawn = glob.glob(osp.join(str(tmp_path), '*', 'vis_data', 'vis_image',
                               '*.png'))
    assert len(drawn) == 3  # one image of each dataset
    drawn = {re.fullmatch(r'val_(.+)_\d+\.png', osp.basename(p)).group(1): p
             for p in drawn}

    # the palettes of mmseg's dataset classes; LoveDA's differs from the
    # ISPRS one in every class but the first
    palettes = dict(vaihingen=ISPRSDataset.METAINFO['palette'],
                    potsdam=PotsdamDataset.METAINFO['palette'],
                    loveda=LoveDADataset.METAINFO['palette'])
    assert sum(a != b for a, b in zip(palettes['vaihingen'],
                                      palettes['loveda'])) == 5
    alpha = runner.visualizer.alpha
    checked = dict.fromkeys(names, 0)
    runner.model.eval()
    for name, loader in runner.val_loop.dataloaders.items():
        for batch in loader:
            with torch.no_grad():
                outputs = runner.model.val_step(batch)
            for out in outputs:
                base = osp.basename(out.img_path)
                img = np.array(Image.open(out.img_path).convert('RGB'))
                gt = _gt_of(osp.join('tests/data', name, 'ann_dir', base))
                pred = out.pred_sem_seg.data[0].cpu().numpy()
                picture = np.array(Image.open(drawn.pop(base)).convert('RGB'))
                h, w = img.shape[:2]
                assert picture.shape == (h, 2 * w, 3)
                assert pred.shape == gt.shape == (h, w)
                _check_drawn(picture[:, :w], img, gt, palettes[name], alpha,
                             f'{name} {base} ground truth')
                _check_drawn(picture[:, w:], img, pred, palettes[name], alpha,
                             f'{name} {base} prediction')
                checked[name] += 1
    assert checked == dict.fromkeys(names, 1)
    assert not drawn


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


def test_loops_need_the_class_check_hook(cfg):
    """The loops check no class counts themselves (the class-count test
    that was here, test_class_count_mismatch, moved to
    tests/test_engine/test_hooks/test_dataset_class_check_hook.py
    ::test_val_stops_on_a_dataset_with_another_class_count): without the
    hook they would evaluate a head against a dataset it does not fit."""
    bad = copy.deepcopy(cfg)
    del bad.default_hooks['dataset_check']
    for mode in ('val', 'test'):
        runner = Runner.from_cfg(copy.deepcopy(bad))
        loop = 'Val' if mode == 'val' else 'Test'
        with pytest.raises(ValueError, match=(
                f'MultiDataset{loop}Loop needs the DatasetClassCheckHook, '
                f'which checks every head against its dataset before each '
                f'{mode} run: add default_hooks.dataset_check = '
                r"dict\(type='DatasetClassCheckHook'\) to the config")):
            getattr(runner, f'{mode}_loop')


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
