"""s5_mm.datasets.dataset_lookup (exported by s5_mm.apis): one recursive
lookup of datasets by the name their SetDatasetName gives them, used by the
demo, the loops, the dataset checker and the export tool."""
import glob
import subprocess
import sys

import pytest
from mmengine.config import Config

import s5_mm  # noqa: F401
from s5_mm.apis import (dataset_metainfo, dataset_names, find_dataset,
                        find_dataset_cfg, iter_dataset_cfgs,
                        pipeline_dataset_name)
from s5mm_tiny_configs import shipped


def named(name, kind='LoveDADataset'):
    return dict(type=kind, pipeline=[dict(type='LoadImageFromFile'),
                                     dict(type='SetDatasetName', name=name)])


NESTED = dict(type='ConcatDataset', datasets=[
    named('a'),
    dict(type='RepeatDataset', times=2, dataset=named('b', 'PotsdamDataset')),
    dict(type='ConcatDataset', datasets=[
        named('c', 'VaihingenDataset'),
        # a wrapper may name its parts
        dict(type='ConcatDataset',
             pipeline=[dict(type='mmdet.SetDatasetName', name='d')],
             datasets=[dict(type='LoveDADataset', pipeline=[])])])])


def test_recursive_lookup():
    assert [n for n, _ in iter_dataset_cfgs(NESTED)] == ['a', 'b', 'c', 'd']
    assert dataset_names(NESTED) == ['a', 'b', 'c', 'd']
    assert find_dataset_cfg(NESTED, 'b')['type'] == 'PotsdamDataset'
    assert find_dataset_cfg(NESTED, 'c')['type'] == 'VaihingenDataset'
    assert find_dataset_cfg(NESTED, 'd') is \
        NESTED['datasets'][2]['datasets'][1]['datasets'][0]
    with pytest.raises(ValueError, match=r"unknown dataset 'x'.*"
                       r"\['a', 'b', 'c', 'd'\]"):
        find_dataset_cfg(NESTED, 'x')
    with pytest.raises(ValueError, match='choose one with --dataset NAME'):
        find_dataset_cfg(NESTED)
    single = named('only')
    assert find_dataset_cfg(single) is single
    assert pipeline_dataset_name([dict(type='Resize')]) is None


def test_shipped_multi_dataset_configs():
    det = Config.fromfile(shipped(
        'moe-mdf-p256_vit-b_oriented-rcnn-le90_8xb2-12e_dior-r-dota2-'
        '1024x1024.py'))
    assert find_dataset(det, 'dota')['type'] == 'StrictDOTAv2Dataset'
    assert find_dataset(det, 'dior')['type'] == 'StrictDIORDataset'
    meta = dataset_metainfo(find_dataset(det, 'dota'), 'mmrotate')
    assert len(meta['classes']) == 18 and meta['classes'][6] == 'ship'
    seg = Config.fromfile(shipped(
        'moe-mdf-p256_vit-b_upernet_8xb12-100e_rsseg4-512x512.py'))
    assert dataset_names(seg.test_dataloader.dataset) == [
        'vaihingen', 'potsdam', 'loveda', 'openearthmap']
    meta = dataset_metainfo(find_dataset(seg, 'loveda'))
    assert len(meta['classes']) == len(meta['palette']) == 7
    # the train loader nests the datasets one level deeper in the sampler's
    # ConcatDataset; the lookup finds them all the same
    assert set(dataset_names(seg.train_dataloader.dataset)) == {
        'vaihingen', 'potsdam', 'loveda', 'openearthmap'}
    with pytest.raises(KeyError, match='no val_dataloader'):
        find_dataset(Config(dict(test_dataloader=None)), 'a', split='val')


def test_loops_and_export_use_the_same_lookup(repo_root):
    from s5_mm.engine.runner import multi_dataset_loops
    assert multi_dataset_loops.find_dataset_cfg is find_dataset_cfg
    assert multi_dataset_loops.pipeline_dataset_name is pipeline_dataset_name
    sys.path.insert(0, 'tools/model_converters')
    try:
        import export_dense
    finally:
        sys.path.pop(0)
    assert export_dense.dataset_names is dataset_names


def test_no_import_cycle():
    """models/ and datasets/ import neither engine/ nor apis/ (the cycle
    rotated_inference -> engine.runner -> datasets -> models is gone), and
    the apis import first in a fresh interpreter."""
    import ast
    for path in glob.glob('s5_mm/models/**/*.py', recursive=True) + \
            glob.glob('s5_mm/datasets/**/*.py', recursive=True):
        tree = ast.parse(open(path).read())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith(
                    ('s5_mm.engine', 's5_mm.apis')), (path, node.module)
    proc = subprocess.run([sys.executable, '-c', 'import s5_mm.apis'],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
