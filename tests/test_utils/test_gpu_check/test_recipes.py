"""s5_mm.utils.gpu_check.recipes: the shipped configs the GPU check trains,
shrunk, on the bundled samples, with the shipped optimiser wrapper."""
import os.path as osp

import pytest

from s5_mm.utils.gpu_check import recipes
from s5_mm.utils.gpu_check.recipes import (BUNDLED, RECIPES, config_root,
                                           on_bundled_data)


def test_config_root_of_a_clone(repo_root):
    # a clone's configs/, or the editable install's s5_mm/.mim/configs
    # link to it (mim's layout, made by `pip install -e .`)
    assert osp.realpath(config_root()) == osp.realpath(
        osp.join(repo_root, 'configs'))


def test_every_dataset_of_a_tree_points_at_its_sample():
    tree = dict(type='ConcatDataset', datasets=[
        dict(type='mmseg.LoveDADataset', data_root='/big/loveda',
             data_prefix=dict(img_path='x')),
        dict(type='RepeatDataset', times=3,
             dataset=dict(type='DOTAv2Dataset', data_root='/big/dota'))])
    on_bundled_data([tree], 'D')
    assert tree['datasets'][0] == dict(
        type='mmseg.LoveDADataset', data_root='D/loveda',
        data_prefix=dict(img_path='img_dir', seg_map_path='ann_dir'))
    assert tree['datasets'][1]['dataset'] == dict(
        type='DOTAv2Dataset', data_root='D/dota_split', ann_file='labelTxt/',
        data_prefix=dict(img_path='images/'))
    assert 'data_root' not in tree and tree['datasets'][1]['times'] == 3
    # the table is not changed by the update
    assert BUNDLED['DOTAv2Dataset']['data_root'] == 'dota_split'
    with pytest.raises(KeyError, match='dataset type CityscapesDataset: no '
                       'bundled sample'):
        on_bundled_data(dict(type='CityscapesDataset'), 'D')


@pytest.mark.parametrize('amp', [None, 'bfloat16'])
def test_s4p_recipes_take_the_shipped_wrapper(amp):
    cfg = recipes.s4p_fixmatch('D', amp)
    wrapper = cfg.optim_wrapper
    if amp is None:
        assert wrapper.type == 'OptimWrapper'
        assert 'loss_scale' not in wrapper and 'dtype' not in wrapper
    else:  # the shipped S4P config's AMP setting, the demo's optimiser
        assert (wrapper.type, wrapper.dtype, wrapper.loss_scale) == (
            'AmpOptimWrapper', 'bfloat16', 'dynamic')
    assert wrapper.optimizer.lr == 0.001  # the demo's
    roots = [d.data_root for d in cfg.train_dataloader.dataset.datasets]
    assert roots == ['D/loveda', 'D/unlabeled']
    ema = recipes.s4p_ema('D', amp)
    assert ema.model.semi_train_cfg.teacher == 'ema'
    assert ema.model.semi_test_cfg.predict_on == 'teacher'
    assert ema.custom_hooks[-1] == dict(type='EMATeacherHook',
                                        max_ratio=0.996)


def _types(node, key):
    if isinstance(node, dict):
        return [node.get(key)] + [t for v in node.values()
                                  for t in _types(v, key)]
    if isinstance(node, (list, tuple)):
        return [t for v in node for t in _types(v, key)]
    return []


@pytest.mark.parametrize('name,sources', [('moe_mdf_seg', 4),
                                          ('moe_mdf_det', 2)])
def test_mdf_recipes_are_shrunk_with_two_images_per_source(name, sources):
    cfg = RECIPES[name]('D', None)
    assert len(cfg.train_dataloader.sampler.source_ratio) == sources
    assert cfg.train_dataloader.batch_size == 2 * sources
    assert cfg.train_dataloader.sampler.batch_size == 2 * sources
    assert cfg.model.backbone.embed_dims == 32
    assert cfg.model.backbone.num_layers == 4
    assert cfg.optim_wrapper.paramwise_cfg.num_layers == 4
    assert cfg.optim_wrapper.type == 'OptimWrapper'
    assert cfg.load_from is None
    init_types = [i.get('type') if isinstance(i, dict) else None
                  for i in _types(cfg.model.to_dict(), 'init_cfg')]
    assert 'Pretrained' not in init_types
    roots = _types(cfg.train_dataloader.to_dict(), 'data_root')
    assert {r for r in roots if r} <= {f'D/{v["data_root"]}'
                                      for v in BUNDLED.values()}
