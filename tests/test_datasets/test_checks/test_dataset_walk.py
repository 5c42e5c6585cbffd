"""s5_mm.datasets.checks.dataset_walk: every leaf dataset of a config, with
a unique key, its kind and where it sits."""
import pytest
from mmengine.config import Config

import s5_mm  # noqa: F401
from s5_mm.datasets.checks.dataset_walk import (dataset_kind, find_datasets,
                                                select)


def leaf(kind, name=None):
    pipeline = [dict(type='LoadImageFromFile')]
    if name:
        pipeline.append(dict(type='SetDatasetName', name=name))
    return dict(type=kind, data_root='nowhere', pipeline=pipeline)


def config():
    train = dict(type='ConcatDataset', datasets=[
        leaf('LoveDADataset', 'loveda'),
        dict(type='RepeatDataset', times=3,
             dataset=leaf('LoveDADataset', 'loveda')),
        leaf('UnlabeledImageDataset')])
    val = dict(type='ConcatDataset', datasets=[leaf('PotsdamDataset')])
    return Config(dict(default_scope='mmseg',
                       train_dataloader=dict(dataset=train),
                       val_dataloader=dict(dataset=val),
                       test_dataloader=dict(dataset=val)))


def test_find_datasets_keys_and_places():
    specs = find_datasets(config())
    # the test split equals val: not repeated
    assert [(s.key, s.name, s.kind) for s in specs] == [
        ('train/loveda', 'loveda', 'seg'),
        ('train/loveda#2', 'loveda', 'seg'),
        ('train/UnlabeledImageDataset', 'UnlabeledImageDataset', 'images'),
        ('val/PotsdamDataset', 'PotsdamDataset', 'seg')]
    assert [s.where for s in specs] == [
        'train_dataloader.dataset.datasets[0]',
        'train_dataloader.dataset.datasets[1].dataset',
        'train_dataloader.dataset.datasets[2]',
        'val_dataloader.dataset.datasets[0]']
    assert specs[1].cfg == leaf('LoveDADataset', 'loveda')
    assert [s.key for s in find_datasets(config(), ['test'])] == [
        'test/PotsdamDataset']


def test_errors_name_what_is_missing():
    cfg = config()
    with pytest.raises(KeyError, match='no val_dataloader.dataset'):
        find_datasets(Config(dict(train_dataloader=cfg.train_dataloader)),
                      ['val'])
    cfg.val_dataloader.dataset.datasets[0].type = 'NoSuchDataset'
    with pytest.raises(KeyError, match=r"val_dataloader.dataset.datasets\[0\]"
                       r": unknown dataset type 'NoSuchDataset'"):
        find_datasets(cfg, ['val'])


def test_select_by_name_or_key():
    specs = find_datasets(config())
    assert [s.key for s in select(specs, 'loveda')] == ['train/loveda',
                                                        'train/loveda#2']
    assert [s.key for s in select(specs, 'train/loveda#2')] == [
        'train/loveda#2']
    with pytest.raises(KeyError, match=r"no dataset named 'x'.*\['PotsdamData"
                       r"set', 'UnlabeledImageDataset', 'loveda'\]"):
        select(specs, 'x')


def test_dataset_kind():
    from mmengine.dataset import BaseDataset
    from mmrotate.datasets import DIORDataset, DOTAv2Dataset
    from mmseg.datasets import LoveDADataset
    assert [dataset_kind(c) for c in (LoveDADataset, DOTAv2Dataset,
                                      DIORDataset, BaseDataset)] == [
        'seg', 'dota', 'dior', 'images']
    with pytest.raises(TypeError, match='dict is not an mmengine'):
        dataset_kind(dict)
