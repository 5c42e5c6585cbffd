"""DatasetClassCheckHook and the head/dataset class-count rules: every head
of a multi-dataset model is checked against its own dataset, for every
dataset of every loop (train / val / test, segmentation and detection, and
tools/test.py), before the first iteration; every shipped config has the
hook and passes. The one build-time check: the multi-dataset loops and the
models check nothing themselves (their tests moved here)."""
import copy
import glob
import os.path as osp
import re

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmseg.datasets import LoveDADataset
from mmseg.registry import DATASETS, MODELS

import s5_mm  # noqa: F401
from mdf_det_common import tiny_model_cfg
from mdf_seg_utils import NAMES, NUM_CLASSES, make_openearthmap, tiny_cfg
from s5_mm.datasets.checks.class_counts import (DatasetClasses, HeadClasses,
                                                built_dataset_classes,
                                                class_count_problems,
                                                config_heads, model_heads,
                                                pipeline_num_classes)
from s5_mm.datasets.checks.dataset_walk import find_datasets
from s5mm_tiny_configs import save_random_checkpoint
from script_runner import run_script

TINY_VIT = dict(type='VisionTransformer', img_size=(32, 32), patch_size=8,
                embed_dims=16, num_layers=1, num_heads=2, mlp_ratio=2,
                out_indices=(0, ), final_norm=False)


def fcn(num_classes):
    return dict(type='FCNHead', in_channels=16, channels=8, num_convs=1,
                concat_input=False, num_classes=num_classes)


def tiny_model(loveda_classes):
    return dict(
        type='MultiDatasetEncoderDecoder',
        data_preprocessor=dict(type='SegDataPreProcessor', size=(32, 32)),
        backbone=TINY_VIT,
        decode_heads=dict(vaihingen=fcn(6), loveda=fcn(loveda_classes)))


def datasets(names=('vaihingen', 'loveda')):
    parts = []
    for (kind, root), name in zip((('ISPRSDataset', 'tests/data/vaihingen'),
                                   ('LoveDADataset', 'tests/data/loveda')),
                                  names):
        pipeline = [dict(type='LoadImageFromFile')]
        if name:
            pipeline.append(dict(type='SetDatasetName', name=name))
        parts.append(dict(type=kind, data_root=root,
                          data_prefix=dict(img_path='img_dir',
                                           seg_map_path='ann_dir'),
                          pipeline=pipeline))
    return dict(type='mmdet.ConcatDataset', datasets=parts)


def test_each_head_against_its_own_dataset():
    init_default_scope('mmseg')
    model = MODELS.build(tiny_model(9))
    built = DATASETS.build(datasets())
    leaves = built_dataset_classes(built, 'train_dataloader.dataset')
    assert [(d.name, len(d.classes)) for d in leaves] == [('vaihingen', 6),
                                                          ('loveda', 7)]
    heads = model_heads(model)
    assert {(h.key, h.num_classes, h.dataset) for h in heads} == {
        ('decode_heads.vaihingen', 6, 'vaihingen'),
        ('decode_heads.loveda', 9, 'loveda')}
    problems = class_count_problems(heads, leaves, model.dataset_names)
    assert len(problems) == 1 and problems[0].rule == 'num_classes'
    assert problems[0].message.startswith(
        "model head decode_heads.loveda has num_classes=9 but dataset "
        "'loveda' (LoveDADataset, data_root='tests/data/loveda', "
        'train_dataloader.dataset.datasets[1]) has 7 classes')
    assert class_count_problems(model_heads(MODELS.build(tiny_model(7))),
                                leaves, model.dataset_names) == []
    # a labeled dataset without a name has no head in a routed model
    unnamed = built_dataset_classes(DATASETS.build(datasets(('vaihingen',
                                                             None))), 'x')
    problems = class_count_problems(heads, unnamed, model.dataset_names)
    assert any('has no head' in p.message for p in problems)


def test_hook_stops_the_runner_before_the_first_iteration(tmp_path):
    cfg = dict(
        model=tiny_model(9),
        work_dir=str(tmp_path),
        train_dataloader=dict(
            batch_size=2, num_workers=0,
            sampler=dict(type='InfiniteSampler', shuffle=False),
            dataset=datasets()),
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=1),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        default_scope='mmseg',
        default_hooks=dict(dataset_check=dict(type='DatasetClassCheckHook')))
    runner = Runner.from_cfg(Config(cfg))
    with pytest.raises(ValueError, match=r'decode_heads\.loveda has '
                       r"num_classes=9 but dataset 'loveda'"):
        runner.train()
    assert runner.iter == 0


@pytest.mark.parametrize('path', sorted(
    glob.glob('configs/mdf_seg/*.py') + glob.glob('configs/mdf_det/*.py') +
    glob.glob('configs/s4p/*.py') + glob.glob('configs/demo/*.py')))
def test_every_shipped_config_fits_its_datasets(path):
    """Config level (no data needed): heads vs classes, and the
    LoadAnnotationsChecked num_classes of every labeled pipeline."""
    cfg = Config.fromfile(path)
    assert cfg.default_hooks.dataset_check.type == 'DatasetClassCheckHook'
    specs = find_datasets(cfg)
    from s5_mm.datasets.dataset_lookup import pipeline_dataset_name
    leaves = [
        DatasetClasses(pipeline_dataset_name(s.cfg.get('pipeline', [])),
                       s.where, s.cls.METAINFO.get('classes'),
                       pipeline_num_classes(s.cfg.get('pipeline', [])))
        for s in specs
    ]
    names = [d.name for d in leaves if d.name]
    heads = config_heads(cfg.model.to_dict(), names)
    assert heads
    assert class_count_problems(heads, leaves,
                                cfg.model.get('dataset_names')) == []
    for spec, leaf in zip(specs, leaves):
        if spec.kind == 'seg':  # every labeled seg pipeline checks labels
            assert leaf.pipeline_num_classes == len(leaf.classes), spec.where


def test_one_walker_for_names_and_classes():
    """The class check and the loops' dataset naming walk a built dataset
    tree by one rule: into ConcatDataset.datasets and wrappers' dataset
    (a RepeatDataset around a ConcatDataset was a dead end for the name)."""
    from s5_mm.datasets.dataset_lookup import (dataset_name_of,
                                               walk_built_datasets)
    init_default_scope('mmseg')
    concat = datasets(('loveda', 'loveda'))
    built = DATASETS.build(dict(
        type='RepeatDataset', times=2,
        dataset=dict(type='mmdet.ConcatDataset', datasets=[
            concat['datasets'][0],
            dict(type='RepeatDataset', times=3,
                 dataset=concat['datasets'][1])])))
    walked = [(w, type(d).__name__)
              for w, d in walk_built_datasets(built, 'train')]
    assert walked == [
        ('train.dataset.datasets[0]', 'ISPRSDataset'),
        ('train.dataset.datasets[1].dataset', 'LoveDADataset')]
    assert [(d.name, d.where.split(', ')[-1]) for d in
            built_dataset_classes(built, 'train')] == [
                ('loveda', w) for w, _ in walked]
    assert dataset_name_of(built, 'train') == 'loveda'
    unnamed = DATASETS.build(dict(type='RepeatDataset', times=2,
                                  dataset=datasets(('loveda', None))))
    with pytest.raises(ValueError, match=r'train\.dataset\.datasets\[1\] '
                       r'\(LoveDADataset.*has no SetDatasetName'):
        dataset_name_of(unnamed, 'train')


def test_class_count_messages():
    """Moved from tests/test_models/test_utils/test_routing.py
    ::test_check_dataset_meta_errors (``routing.check_dataset_meta`` went:
    this is the one rule): each message names the dataset, both counts and
    what to set."""
    heads = [HeadClasses('model.x[0]', 20, 'dior'),
             HeadClasses('model.x[1]', 18, 'dota')]

    def messages(name, classes):
        return [p.message for p in class_count_problems(
            heads, [DatasetClasses(name, 'here', classes)], ['dior', 'dota'])]

    assert messages('dior', tuple('a' * 20)) == []
    assert messages('dota', None) == []  # no classes: nothing to do
    assert messages('dior', tuple('b' * 18)) == [
        "model head model.x[0] has num_classes=20 but dataset 'dior' (here) "
        f"has 18 classes {tuple('b' * 18)}: set num_classes=18 for that "
        'head in the model config']
    assert messages('xview', ('a', )) == [
        "dataset 'xview' (here) has no head: the model has heads for "
        "['dior', 'dota'] (name it with SetDatasetName)"]


def test_segmentor_heads_against_named_datasets(tmp_path):
    """Moved from tests/test_models/test_segmentors/
    test_multi_dataset_encoder_decoder.py::test_errors (the model's
    ``check_dataset_meta`` went): the shipped MDF segmentor, shrunk."""
    cfg = tiny_cfg(make_openearthmap(str(tmp_path)))
    init_default_scope('mmseg')
    model = MODELS.build(cfg.model)
    heads = model_heads(model)
    assert {h.dataset: h.num_classes for h in heads} == NUM_CLASSES

    def messages(name, classes):
        return [p.message for p in class_count_problems(
            heads, [DatasetClasses(name, 'here', classes)],
            model.dataset_names)]

    assert messages('openearthmap', tuple('abcdefgh')) == []
    assert messages('openearthmap', tuple('abcdefg')) == [
        'model head decode_heads.openearthmap has num_classes=8 but dataset '
        f"'openearthmap' (here) has 7 classes {tuple('abcdefg')}: set "
        'num_classes=7 for that head in the model config']
    assert messages('isaid', tuple('ab')) == [
        f"dataset 'isaid' (here) has no head: the model has heads for "
        f'{NAMES} (name it with SetDatasetName)']


def test_detector_heads_against_named_datasets(tiny_moe_model, test_sets):
    """Moved from tests/test_models/test_detectors/
    test_multi_dataset_two_stage.py::test_check_dataset_meta (the model's
    ``check_dataset_meta`` went): each branch's box head against its
    dataset, the RPN (class-agnostic) left out."""
    model = tiny_moe_model
    heads = model_heads(model)
    assert sorted(heads) == [
        HeadClasses('branches.dior.roi_head.bbox_head', 20, 'dior'),
        HeadClasses('branches.dota.roi_head.bbox_head', 18, 'dota')]
    leaves = [leaf for name, ds in test_sets.items()
              for leaf in built_dataset_classes(ds, name)]
    assert [(d.name, len(d.classes)) for d in leaves] == [('dior', 20),
                                                          ('dota', 18)]
    assert class_count_problems(heads, leaves, model.dataset_names) == []
    dota_classes = tuple(test_sets['dota'].metainfo['classes'])

    def messages(name):
        return [p.message for p in class_count_problems(
            heads, [DatasetClasses(name, 'here', dota_classes)],
            model.dataset_names)]

    assert messages('dior') == [
        'model head branches.dior.roi_head.bbox_head has num_classes=20 but '
        f"dataset 'dior' (here) has 18 classes {dota_classes}: set "
        'num_classes=18 for that head in the model config']
    assert messages('xview') == [
        "dataset 'xview' (here) has no head: the model has heads for "
        "['dior', 'dota'] (name it with SetDatasetName)"]


# --- through the Runner: the hook is the one build-time check, for every
# dataset of every loop (the multi-dataset loops check nothing themselves)
@pytest.fixture(scope='module')
def seg_cfg(tmp_path_factory):
    """The shipped MoE-MDF segmentation config (MultiDatasetValLoop /
    MultiDatasetTestLoop over the four rsseg4 datasets), shrunk."""
    root = tmp_path_factory.mktemp('seg')
    return tiny_cfg(make_openearthmap(str(root / 'oem')),
                    work_dir=str(root / 'work'))


def det_cfg(moe_cfg, data_root, work_dir):
    """The shipped MoE-MDF detection config (plain ValLoop / TestLoop with
    MultiDatasetDOTAMetric), shrunk, on the bundled DIOR-R / DOTA data."""
    cfg = copy.deepcopy(moe_cfg)
    cfg.model = tiny_model_cfg(cfg)
    data = dict(
        DIOR=dict(data_root=osp.join(data_root, 'dior'), ann_file='demo.txt',
                  data_prefix=dict(img_path='JPEGImage')),
        DOTA=dict(data_root=osp.join(data_root, 'dota_split'),
                  ann_file='labelTxt/', data_prefix=dict(img_path='images/')))

    def point_at_data(node):
        if 'data_root' in node:
            node.update(next(v for k, v in data.items() if k in node.type))
        for sub in node.get('datasets', []):
            point_at_data(sub)

    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key] = copy.deepcopy(cfg[key])
        cfg[key].update(num_workers=0, persistent_workers=False)
        point_at_data(cfg[key].dataset)
    cfg.optim_wrapper.type = 'OptimWrapper'  # AMP needs a GPU
    cfg.optim_wrapper.paramwise_cfg.num_layers = \
        cfg.model.backbone.num_layers
    cfg.work_dir = str(work_dir)
    cfg.launcher = 'none'
    return cfg


def stopped(cfg, mode):
    """``runner.<mode>()`` stops with the hook's error, before the first
    iteration and before anything was evaluated; returns the message."""
    runner = Runner.from_cfg(copy.deepcopy(cfg))
    with pytest.raises(ValueError,
                       match='the model does not fit its datasets') as err:
        getattr(runner, mode)()
    assert runner.iter == 0
    if mode != 'train':
        evaluator = getattr(runner, f'{mode}_loop').evaluator
        metrics = getattr(evaluator, 'metrics', None) or [
            m for ev in evaluator.evaluators.values() for m in ev.metrics]
        assert metrics and all(m.results == [] for m in metrics)
    return str(err.value)


def named(msg, head, n_head, name, n, where):
    return re.search(
        rf'model head {re.escape(head)} has num_classes={n_head} but '
        rf"dataset '{name}' \([^)]*{re.escape(where)}[^)]*\) has {n} "
        r'classes .*: set num_classes=\d+ for that head', msg)


def test_val_stops_on_a_dataset_with_another_class_count(seg_cfg):
    """Moved from tests/test_engine/test_runner/test_multi_dataset_loops.py
    ::test_class_count_mismatch (the loop checked it; now the hook does,
    before validation): same dataset, counts and what to set."""
    bad = copy.deepcopy(seg_cfg)
    # a subset of ISPRS classes is valid for the dataset, not for the head
    bad.val_dataloader.dataset.datasets[0].metainfo = dict(
        classes=('impervious_surface', 'building', 'low_vegetation'))
    msg = stopped(bad, 'val')
    assert named(msg, 'decode_heads.vaihingen', 6, 'vaihingen', 3,
                 'val_dataloader.dataset.datasets[0]'), msg
    assert 'set num_classes=3 for that head in the model config' in msg
    # the other three val datasets fit their heads; no test set is looked at
    assert msg.count('model head') == 1 and 'test_dataloader' not in msg


@pytest.mark.parametrize('mode', ['train', 'test'])
def test_every_dataset_of_every_seg_loop(seg_cfg, mode):
    """A head one class too many for each of the four datasets: each is
    named, in the loop run (train also checks the val sets, as
    ``runner.val()`` does, above)."""
    bad = copy.deepcopy(seg_cfg)
    for head in bad.model.decode_heads.values():
        head.num_classes += 1
    msg = stopped(bad, mode)
    checked = ['train', 'val'] if mode == 'train' else [mode]
    for split in ('train', 'val', 'test'):
        for i, name in enumerate(NAMES):
            n = NUM_CLASSES[name]
            found = named(msg, f'decode_heads.{name}', n + 1, name, n,
                          f'{split}_dataloader.dataset.datasets[{i}]')
            assert bool(found) == (split in checked), (split, name, msg)


@pytest.mark.parametrize('mode', ['train', 'val', 'test'])
def test_every_dataset_of_every_det_loop(moe_cfg, data_root, tmp_path, mode):
    """The same for detection: each branch's box head against its dataset,
    in every loop (DIOR-R trainval is a ConcatDataset of two splits)."""
    bad = det_cfg(moe_cfg, data_root, tmp_path)
    bad.model.num_classes = [21, 19]  # DIOR-R has 20 classes, DOTA-v2 18
    msg = stopped(bad, mode)
    checked = ['train', 'val'] if mode == 'train' else [mode]
    for split in ('train', 'val', 'test'):
        for i, (name, n) in enumerate((('dior', 20), ('dota', 18))):
            found = named(msg, f'branches.{name}.roi_head.bbox_head', n + 1,
                          name, n, f'{split}_dataloader.dataset.datasets[{i}]')
            assert bool(found) == (split in checked), (split, name, msg)
    assert msg.count("dataset 'dior'") == (3 if mode == 'train' else 1)


def test_tools_test_stops_before_evaluation(seg_cfg, tmp_path):
    """tools/test.py on a multi-dataset config whose LoveDA test set has
    another class count than its head: the named error, no metric."""
    bad = copy.deepcopy(seg_cfg)
    bad.work_dir = str(tmp_path / 'work')
    loveda = bad.test_dataloader.dataset.datasets[2]
    loveda.metainfo = dict(
        classes=LoveDADataset.METAINFO['classes'][:5])
    cfg_file, ckpt, _ = save_random_checkpoint(bad, str(tmp_path))
    proc = run_script(['tools/test.py', cfg_file, ckpt])
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert 'ValueError: the model does not fit its datasets' in out
    assert named(out, 'decode_heads.loveda', 7, 'loveda', 5,
                 'test_dataloader.dataset.datasets[2]'), out
    assert 'set num_classes=5 for that head in the model config' in out
    assert 'Iter(test)' not in out and 'loveda/mIoU:' not in out


def test_every_config_users_run_has_the_hook():
    """Every config under configs/ (``_base_`` aside, s5_released too)
    registers the hook; those of the multi-dataset loops must, as the loops
    refuse to run without it (tests/test_engine/test_runner/
    test_multi_dataset_loops.py::test_loops_need_the_class_check_hook)."""
    paths = sorted(p for p in glob.glob('configs/**/*.py', recursive=True)
                   if '_base_' not in p)
    cfgs = {p: Config.fromfile(p) for p in paths}
    assert len(cfgs) >= 33
    loops = [p for p, c in cfgs.items() if 'MultiDataset' in str(
        (c.get('val_cfg'), c.get('test_cfg')))]
    assert len(loops) >= 7
    missing = [p for p, c in cfgs.items()
               if (c.get('default_hooks') or {}).get('dataset_check', {})
               .get('type') != 'DatasetClassCheckHook']
    assert missing == []
