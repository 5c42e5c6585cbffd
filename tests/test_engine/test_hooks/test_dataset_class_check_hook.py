"""DatasetClassCheckHook and the head/dataset class-count rules: every head
of a multi-dataset model is checked against its own dataset; every shipped
config passes."""
import glob

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmseg.registry import DATASETS, MODELS

import s5_mm  # noqa: F401
from s5_mm.datasets.checks.class_counts import (DatasetClasses,
                                                pipeline_num_classes,
                                                built_dataset_classes,
                                                class_count_problems,
                                                config_heads, model_heads)
from s5_mm.datasets.checks.dataset_walk import find_datasets

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
