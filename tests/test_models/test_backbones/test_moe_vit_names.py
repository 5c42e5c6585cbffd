"""MoEViT.forward takes dataset names (one or one per sample) as well as
ids; an unknown name lists the known ones."""
import pytest
import torch

import s5_mm  # noqa: F401
from s5_mm.models.backbones.moe_vit import MoEViT


@pytest.fixture(scope='module')
def moe():
    torch.manual_seed(0)
    model = MoEViT(dataset_names=['potsdam', 'loveda', 'isaid'],
                   expert_channels=8, img_size=(32, 32), patch_size=8,
                   embed_dims=32, num_layers=2, num_heads=2,
                   out_indices=(1, ))
    model.eval()
    with torch.no_grad():  # experts that differ, so routing shows
        for layer in model.layers:
            for k, expert in enumerate(layer.ffn.experts):
                expert.weight.normal_(std=0.1 * (k + 1))
    return model


@torch.no_grad()
def test_names_route_like_ids(moe):
    x = torch.randn(3, 3, 32, 32)
    by_id = moe(x, torch.tensor([2, 0, 1]))[0]
    assert torch.equal(moe(x, ['isaid', 'potsdam', 'loveda'])[0], by_id)
    assert torch.equal(moe(x, 'loveda')[0], moe(x, 1)[0])
    assert not torch.equal(moe(x, 'loveda')[0], moe(x, 'isaid')[0])


def test_unknown_name_lists_known_names(moe):
    x = torch.randn(2, 3, 32, 32)
    with pytest.raises(ValueError, match=r"unknown dataset 'vaihingen'.*"
                       r"\['potsdam', 'loveda', 'isaid'\]"):
        moe(x, 'vaihingen')
    with pytest.raises(ValueError, match="unknown dataset 'Potsdam'"):
        moe(x, ['loveda', 'Potsdam'])
    with pytest.raises(ValueError, match='mixes names and ids'):
        moe(x, ['loveda', 0])
    with pytest.raises(ValueError, match=r'shape \(2,\)'):
        moe(x, ['loveda'])  # one name per sample
