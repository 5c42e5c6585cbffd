"""Strict checkpoint loading: mismatches are an error naming the keys and
both shapes, a partial load is an explicit opt-out, and MoEViT's dense-to-MoE
mapping still loads exactly."""
import copy

import pytest
import torch
import torch.nn as nn
from mmseg.models.backbones import VisionTransformer

import s5_mm  # noqa: F401
from s5_mm.models.backbones.moe_vit import MoEViT
from s5_mm.utils import (CheckpointMismatchError, load_checkpoint_strict,
                         load_state_dict_strict)

VIT = dict(img_size=(32, 32), patch_size=8, num_layers=2, num_heads=4,
           out_indices=(1, ), final_norm=True)


def _vit(dims: int) -> VisionTransformer:
    torch.manual_seed(dims)
    return VisionTransformer(embed_dims=dims, **VIT)


def _model(num_classes: int) -> nn.Module:
    torch.manual_seed(num_classes)
    return nn.ModuleDict(dict(backbone=_vit(64),
                              head=nn.Conv2d(64, num_classes, 1)))


def test_other_dims_are_an_error_with_keys_shapes_and_opt_out(tmp_path):
    path = tmp_path / 'embed96.pth'
    torch.save({'state_dict': _vit(96).state_dict()}, path)
    model = _vit(64)
    before = copy.deepcopy(model.state_dict())
    with pytest.raises(CheckpointMismatchError) as exc:
        load_checkpoint_strict(model, str(path))
    msg = str(exc.value)
    assert str(path) in msg and 'VisionTransformer' in msg
    assert ('patch_embed.projection.weight: (96, 3, 8, 8) in the checkpoint, '
            '(64, 3, 8, 8) in the model') in msg
    n = len([k for k, v in before.items() if v.dim() > 0])
    assert f'{n} shape mismatches' in msg and 'first 10 of' in msg
    assert 'allow_partial_load = True' in msg and '--allow-partial-load' in msg
    # nothing of another shape was copied
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_partial_load_opt_out_loads_what_fits(tmp_path):
    path = tmp_path / 'five_classes.pth'
    source = _model(5)
    torch.save({'state_dict': {f'module.{k}': v for k, v in
                               source.state_dict().items()},
                'meta': {}}, path)
    target = _model(7)
    head = target['head'].weight.clone()
    with pytest.raises(CheckpointMismatchError, match=r'head\.weight: '
                       r'\(5, 64, 1, 1\) in the checkpoint, \(7, 64, 1, 1\)'):
        load_checkpoint_strict(target, str(path))
    load_checkpoint_strict(target, str(path), allow_partial=True)
    for k, v in source['backbone'].state_dict().items():
        assert torch.equal(target['backbone'].state_dict()[k], v), k
    assert torch.equal(target['head'].weight, head)  # kept its init


def test_missing_and_unexpected_keys_are_listed():
    state = _vit(64).state_dict()
    state['extra.weight'] = torch.zeros(3)
    del state['ln1.weight']
    with pytest.raises(CheckpointMismatchError) as exc:
        load_state_dict_strict(_vit(64), state, source='mine.pth')
    msg = str(exc.value)
    assert '1 missing keys, 1 unexpected keys' in msg
    assert 'missing in the checkpoint (1):\n    ln1.weight' in msg
    assert 'unexpected (not in the model) (1):\n    extra.weight' in msg


def test_dense_vit_loads_strictly_into_moe_vit():
    """The pre-hook maps dense fc2 into shared + experts: not a mismatch,
    and the MoE model then computes the dense ViT exactly."""
    dense = _vit(64)
    moe = MoEViT(dataset_names=['a', 'b'], expert_channels=16, embed_dims=64,
                 **VIT)
    dense.eval()  # mmseg's ViT.train() returns None: no chaining
    moe.eval()
    report = load_state_dict_strict(moe, dense.state_dict())
    assert report.exact
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(moe(x, [0, 1])[0], dense(x)[0], atol=1e-5)
    # an MoE checkpoint round-trips exactly too
    assert load_state_dict_strict(moe, moe.state_dict()).exact
