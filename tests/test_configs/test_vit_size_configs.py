"""The shipped ViT-L / ViT-H configs are their ViT-B config on the L / H base
model: every key equals the ViT-B config's, except the fields in which the
L / H base model file differs from the B one, the pretrained checkpoint and
the depth of the layer-wise lr decay."""
import copy
import os.path as osp

import pytest
from mmengine.config import Config

S4P = 's4p/s4p-fixmatch_vit-{}_upernet_8xb12-120k_isaid-rs4p-512x512.py'
MOE_SEG = 'mdf_seg/moe-mdf-p256_vit-{}_upernet_8xb12-100e_rsseg4-512x512.py'
SDF_SEG = 'mdf_seg/sdf_vit-{}_upernet_8xb12-100e_vaihingen-512x512.py'
MOE_DET = ('mdf_det/moe-mdf-p256_vit-{}_oriented-rcnn-le90_8xb2-12e_'
           'dior-r-dota2-1024x1024.py')
SEG_BASE = '_base_/models/upernet_vit-{}16.py'
DET_BASE = '_base_/models/oriented-rcnn-le90_vit-{}_fpn.py'
DEPTH = dict(b=12, l=24, h=32)
# (config, base model, sizes, where the base model sits in the config's
# model, where its decode_head is copied to)
CASES = [
    (S4P, SEG_BASE, 'lh', ('segmentor', ), ()),
    (MOE_SEG, SEG_BASE, 'lh', (), ('decode_heads', )),
    (SDF_SEG, SEG_BASE, 'l', (), ()),
    (MOE_DET, DET_BASE, 'lh', (), ()),
]
# helper variables of a config (read by the config itself only)
HELPERS = ('segmentor', 'mae_checkpoint', 's4p_checkpoint')


def _load(repo_root, name):
    return Config.fromfile(osp.join(repo_root, 'configs', name)).to_dict()


def _changes(a, b, path=()):
    """Leaves of dict ``b`` that differ from (or are missing in) ``a``."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in b:
            out += _changes(a.get(key), b[key], path + (key, ))
        return out
    return [] if a == b else [(path, b)]


def _set(node, path, value):
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


@pytest.mark.parametrize('config, base, size', [
    (c, b, s) for c, b, sizes, _, _ in CASES for s in sizes
])
def test_size_variant_is_b_config_on_size_base(repo_root, config, base, size):
    case = next(c for c in CASES if c[0] == config)
    at, heads_at = case[3], case[4]
    changes = _changes(
        _load(repo_root, base.format('b'))['model'],
        _load(repo_root, base.format(size))['model'])
    # the size base file changes the ViT (and what follows its width) only
    assert {path[0] for path, _ in changes} <= {
        'backbone', 'neck', 'decode_head', 'branch_neck'}
    assert ('backbone', 'num_layers') in [p for p, _ in changes]

    expected = copy.deepcopy(_load(repo_root, config.format('b')))
    got = _load(repo_root, config.format(size))
    model = expected['model']
    for key in at:
        model = model[key]
    for path, value in changes:
        if heads_at and path[0] == 'decode_head':
            for head in model[heads_at[0]].values():
                _set(head, path[1:], value)
        else:
            _set(model, path, value)
    # the pretrained checkpoint and the lr-decay depth follow the size
    init = model['backbone'].get('init_cfg')
    if init is not None:
        ckpt = got['model']
        for key in at + ('backbone', 'init_cfg', 'checkpoint'):
            ckpt = ckpt[key]
        assert ckpt != init['checkpoint']
        assert f'vit-{size}' in ckpt or dict(
            l='large', h='huge')[size] in ckpt, ckpt
        init['checkpoint'] = ckpt
    layers = expected['optim_wrapper'].get('paramwise_cfg', {})
    if 'num_layers' in layers:
        assert got['optim_wrapper']['paramwise_cfg']['num_layers'] == \
            DEPTH[size]
        layers['num_layers'] = DEPTH[size]
    for key in HELPERS:
        expected.pop(key, None)
        got.pop(key, None)
    assert got == expected
