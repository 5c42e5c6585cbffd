"""s5_mm.models.utils.routing: the names, groups, absent-dataset term and
loss keys both multi-dataset models use (the class-count check moved to
tests/test_engine/test_hooks/test_dataset_class_check_hook.py)."""
import pytest
import torch
from mmengine.structures import BaseDataElement
from torch import nn

from s5_mm.models.utils.routing import (ABSENT_LOSS, absent_dataset_loss,
                                        check_dataset_names,
                                        dataset_ids_from_names,
                                        expert_parameters, get_dataset_ids,
                                        get_dataset_names, group_by_dataset,
                                        prefix_losses, select)

NAMES = ['vaihingen', 'potsdam', 'loveda']


def samples_of(names):
    out = []
    for i, name in enumerate(names):
        s = BaseDataElement(metainfo=dict(img_path=f'img{i}.png'))
        if name is not None:
            s.set_metainfo(dict(dataset_name=name))
        out.append(s)
    return out


class ToyMoE(nn.Module):
    """Parameters named like MoEViT's: layers.i.ffn.experts.k.*"""

    def __init__(self, num_experts=3):
        super().__init__()
        self.layers = nn.ModuleList()
        for _ in range(2):
            layer = nn.Module()
            layer.ffn = nn.Module()
            layer.ffn.shared = nn.Linear(2, 2)
            layer.ffn.experts = nn.ModuleList(
                nn.Linear(2, 1) for _ in range(num_experts))
            self.layers.append(layer)
        # a name that a substring rule 'experts.1' would wrongly match
        self.experts_11 = nn.Linear(1, 1)


def test_check_dataset_names():
    assert check_dataset_names(('a', 'b')) == ['a', 'b']
    for bad, msg in [([], 'non-empty list'), ('ab', 'non-empty list'),
                     (['a', ''], 'non-empty strings'),
                     (['a', 'a'], 'duplicates'),
                     (['a.b'], r'contain "\." or "/"'),
                     (['a/b'], r'contain "\." or "/"')]:
        with pytest.raises(ValueError, match=msg):
            check_dataset_names(bad, 'model.dataset_names')
    with pytest.raises(ValueError, match='in decode_heads contain'):
        check_dataset_names(['x.y'], 'decode_heads')


def test_names_and_ids():
    samples = samples_of(['loveda', 'vaihingen', 'loveda'])
    assert get_dataset_names(samples) == ['loveda', 'vaihingen', 'loveda']
    assert get_dataset_ids(samples, NAMES).tolist() == [2, 0, 2]
    with pytest.raises(KeyError, match=r"data sample 1 \(img1.png\) has no "
                       "'dataset_name'.*SetDatasetName"):
        get_dataset_names(samples_of(['loveda', None]))
    with pytest.raises(ValueError, match="unknown dataset 'isaid'"):
        dataset_ids_from_names(['isaid'], NAMES)


def test_group_by_dataset_keeps_batch_order_and_reports_absent():
    samples = samples_of(['loveda', 'vaihingen', 'loveda', 'vaihingen'])
    ids = get_dataset_ids(samples, NAMES)
    groups = list(group_by_dataset(ids, NAMES, samples))
    assert [(g.id, g.name, g.present) for g in groups] == [
        (0, 'vaihingen', True), (1, 'potsdam', False), (2, 'loveda', True)]
    assert groups[0].index.tolist() == [1, 3]
    assert groups[2].index.tolist() == [0, 2]
    assert groups[0].samples == [samples[1], samples[3]]
    assert groups[1].index is None and groups[1].samples is None
    # without data samples: indices only
    assert [g.samples for g in group_by_dataset(ids, NAMES)] == [None] * 3

    x = torch.arange(4.).view(4, 1) * 10
    feats = [x, x + 1]
    assert select(x, groups[2].index).flatten().tolist() == [0., 20.]
    sub = select(feats, groups[0].index)
    assert isinstance(sub, tuple)
    assert [f.flatten().tolist() for f in sub] == [[10., 30.], [11., 31.]]


def test_loss_keys():
    losses = prefix_losses({'loss_cls': 1, 'acc': 2}, 'dior')
    assert losses == {'dior/loss_cls': 1, 'dior/acc': 2}
    assert ABSENT_LOSS == 'loss_absent'


def test_expert_parameters_match_by_id_only():
    moe = ToyMoE()
    got = {id(p) for p in expert_parameters(moe, 1)}
    want = {id(p) for layer in moe.layers
            for p in layer.ffn.experts[1].parameters()}
    assert got == want and len(got) == 4  # 2 layers x (weight, bias)
    assert list(expert_parameters(nn.Linear(2, 2), 0)) == []


def test_absent_dataset_loss_is_zero_and_reaches_every_parameter():
    torch.manual_seed(0)
    moe, head = ToyMoE(), nn.Linear(3, 2)
    frozen = nn.Linear(2, 2).requires_grad_(False)
    group = list(group_by_dataset(torch.tensor([0, 0]), NAMES))[1]
    loss = absent_dataset_loss(group, [head, frozen], moe)
    assert list(loss) == ['potsdam/loss_absent']
    assert loss['potsdam/loss_absent'].item() == 0.0
    loss['potsdam/loss_absent'].backward()
    for p in list(head.parameters()) + [
            p for layer in moe.layers
            for p in layer.ffn.experts[1].parameters()]:
        assert p.grad is not None and torch.count_nonzero(p.grad) == 0
    others = [p for layer in moe.layers
              for k in (0, 2) for p in layer.ffn.experts[k].parameters()]
    assert all(p.grad is None for p in others + list(
        moe.layers[0].ffn.shared.parameters()))
    assert moe.experts_11.weight.grad is None
    assert all(p.grad is None for p in frozen.parameters())
