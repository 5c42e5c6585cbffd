"""MoEViT: dense equivalence, routing, gradient isolation, loading, errors."""
import copy

import pytest
import torch
from mmengine.runner import save_checkpoint
from mmseg.registry import MODELS

import s5_mm  # noqa: F401

NAMES = ['vaihingen', 'potsdam', 'loveda']
TINY = dict(
    img_size=(64, 64),
    patch_size=16,
    embed_dims=64,
    num_layers=2,
    num_heads=4,
    mlp_ratio=4,
    qkv_bias=True,
    out_indices=(0, 1),
    with_cls_token=True,
    final_norm=True)
P = 16


@pytest.fixture(autouse=True, scope='module')
def _mmseg_scope():
    """Build in the mmseg scope whatever module ran before (a detection
    Runner leaves the mmrotate scope current)."""
    from mmengine.registry import init_default_scope
    init_default_scope('mmseg')


def build_dense(**kw):
    torch.manual_seed(0)
    model = MODELS.build(dict(type='VisionTransformer', **{**TINY, **kw}))
    model.init_weights()
    model.eval()  # mmseg's ViT.train() returns None
    return model


def build_moe(names=NAMES, p=P, **kw):
    model = MODELS.build(
        dict(type='MoEViT', dataset_names=names, expert_channels=p,
             **{**TINY, **kw}))
    model.eval()
    return model


def loaded_moe(dense, **kw):
    moe = build_moe(**kw)
    moe.load_state_dict(dense.state_dict(), strict=True)
    return moe


def max_diff(outs_a, outs_b):
    return max((a - b).abs().max().item() for a, b in zip(outs_a, outs_b))


def test_dense_equivalence_per_dataset_and_mixed():
    dense = build_dense()
    moe = loaded_moe(dense)
    x = torch.randn(4, 3, 64, 64)
    with torch.no_grad():
        ref = dense(x)
        for k in range(len(NAMES)):
            assert max_diff(moe(x, k), ref) <= 1e-5
            assert max_diff(moe(x, torch.full((4, ), k)), ref) <= 1e-5
        mixed = moe(x, torch.tensor([2, 0, 1, 0]))
    assert max_diff(mixed, ref) <= 1e-5


def test_mixed_batch_routes_each_sample_to_its_expert():
    moe = build_moe()
    moe.init_weights()  # random experts: each dataset computes differently
    x = torch.randn(4, 3, 64, 64)
    ids = torch.tensor([2, 0, 1, 0])
    with torch.no_grad():
        mixed = moe(x, ids)
        for b, k in enumerate(ids.tolist()):
            alone = moe(x[b:b + 1], k)
            assert max_diff([m[b:b + 1] for m in mixed], alone) <= 1e-5
        other = moe(x[:1], 0)  # sample 0 (dataset 2) through expert 0
    assert max_diff([m[:1] for m in mixed], other) > 1e-3


def test_single_dataset_needs_no_ids_and_matches_dense():
    dense = build_dense()
    moe = loaded_moe(dense, names=['isaid'])
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert max_diff(moe(x), dense(x)) <= 1e-5


def test_gradient_isolation_between_experts():
    moe = build_moe()
    moe.init_weights()
    moe.train()
    x = torch.randn(3, 3, 64, 64)
    outs = moe(x, torch.tensor([0, 2, 0]))
    sum(o.sum() for o in outs).backward()
    for layer in moe.layers:
        experts = layer.ffn.experts
        assert experts[0].weight.grad.abs().sum() > 0
        assert experts[2].weight.grad.abs().sum() > 0
        assert experts[1].weight.grad is None
        assert layer.ffn.shared_fc.weight.grad.abs().sum() > 0

    # a sample's loss sends gradient to its own expert only
    moe.zero_grad(set_to_none=True)
    outs = moe(x, torch.tensor([0, 2, 0]))
    sum(o[1].sum() for o in outs).backward()  # sample of dataset 2 only
    for layer in moe.layers:
        grad0 = layer.ffn.experts[0].weight.grad
        assert grad0 is None or grad0.abs().max() == 0
        assert layer.ffn.experts[2].weight.grad.abs().sum() > 0


@pytest.mark.parametrize('names', [['a'], NAMES])
def test_parameter_count_formula(names):
    dense = build_dense()
    moe = build_moe(names=names)
    n_dense = sum(p.numel() for p in dense.parameters())
    n_moe = sum(p.numel() for p in moe.parameters())
    hidden = TINY['embed_dims'] * TINY['mlp_ratio']
    assert n_moe - n_dense == (len(names) - 1) * TINY['num_layers'] * (
        hidden * P + P)


def test_vit_b_expert_count_on_meta_device():
    # mmseg's VisionTransformer cannot be built on the meta device (it calls
    # .item() on a tensor); a one-dataset MoEViT has exactly its parameters.
    vit_b = dict(type='MoEViT', expert_channels=256, img_size=512,
                 embed_dims=768, num_layers=12, num_heads=12)
    with torch.device('meta'):
        single = MODELS.build(dict(vit_b, dataset_names=['a']))
        moe = MODELS.build(dict(vit_b, dataset_names=['a', 'b', 'c', 'd']))
    n_single = sum(p.numel() for p in single.parameters())
    n_moe = sum(p.numel() for p in moe.parameters())
    assert round(n_single / 1e6, 2) == 86.43  # S5_REFERENCE: ViT-B 86.43M
    assert n_moe - n_single == 3 * 12 * 786688


def test_init_cfg_pretrained_loads_dense_checkpoint(tmp_path):
    dense = build_dense()
    ckpt = str(tmp_path / 'dense.pth')
    save_checkpoint({'state_dict': dense.state_dict()}, ckpt)
    moe = build_moe(init_cfg=dict(type='Pretrained', checkpoint=ckpt))
    moe.init_weights()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert max_diff(moe(x, torch.tensor([1, 2])), dense(x)) <= 1e-5
    fc2 = dense.layers[1].ffn.layers[1]
    ffn = moe.layers[1].ffn
    assert torch.equal(ffn.shared_fc.weight, fc2.weight[:64 - P])
    for expert in ffn.experts:
        assert torch.equal(expert.bias, fc2.bias[64 - P:])


def test_init_cfg_prefix_and_pos_embed_resize(tmp_path):
    dense = build_dense(img_size=(32, 32))  # 2x2 grid
    ckpt = str(tmp_path / 'segmentor.pth')
    save_checkpoint(
        {'state_dict': {'backbone.' + k: v
                        for k, v in dense.state_dict().items()}}, ckpt)
    moe = build_moe(init_cfg=dict(type='Pretrained', checkpoint=ckpt,
                                  prefix='backbone.'))
    moe.init_weights()
    ref = build_dense(img_size=(64, 64))
    ref.init_cfg = dict(type='Pretrained', checkpoint=str(
        tmp_path / 'bare.pth'))
    save_checkpoint({'state_dict': dense.state_dict()}, ref.init_cfg[
        'checkpoint'])
    ref.init_weights()  # mmseg's own loading (pos_embed resized to 4x4)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert max_diff(moe(x, torch.tensor([0, 2])), ref(x)) <= 1e-5
    forgot = build_moe(init_cfg=dict(type='Pretrained', checkpoint=ckpt))
    with pytest.raises(KeyError, match="prefix='backbone.'"):
        forgot.init_weights()


def test_state_dict_round_trip():
    moe = build_moe()
    moe.init_weights()
    again = build_moe()
    again.load_state_dict(moe.state_dict(), strict=True)
    for (k, a), b in zip(moe.state_dict().items(),
                         again.state_dict().values()):
        assert torch.equal(a, b), k


def test_with_cp_gives_same_gradients():
    moe = build_moe()
    moe.init_weights()
    moe_cp = build_moe(with_cp=True)
    moe_cp.load_state_dict(moe.state_dict())
    x = torch.randn(3, 3, 64, 64)
    ids = torch.tensor([1, 0, 1])
    grads = []
    for model in (moe, moe_cp):
        model.train()
        outs = model(x, ids)
        sum((o**2).sum() for o in outs).backward()
        grads.append({n: p.grad for n, p in model.named_parameters()})
    assert grads[0].keys() == grads[1].keys()
    for name, g in grads[0].items():
        if g is None:
            assert grads[1][name] is None, name
        else:
            assert torch.allclose(g, grads[1][name], atol=1e-6), name
    assert grads[1]['layers.0.ffn.experts.1.weight'].abs().sum() > 0
    assert grads[1]['layers.0.ffn.experts.2.weight'] is None


@pytest.mark.parametrize('ids', [3, -1, torch.tensor([0, 3])])
def test_unknown_dataset_id_names_valid_datasets(ids):
    moe = build_moe()
    with pytest.raises(ValueError, match='loveda'):
        moe(torch.randn(2, 3, 64, 64), ids)


def test_missing_ids_with_several_datasets():
    with pytest.raises(ValueError, match='needs dataset_ids'):
        build_moe()(torch.randn(1, 3, 64, 64))


@pytest.mark.parametrize('names,msg', [
    ([], 'non-empty list'), ('loveda', 'non-empty list'),
    (['a', ''], 'non-empty list'), (['a', 'a'], 'duplicates'),
    (['a', 'b.c'], 'contain "." or "/"')])
def test_bad_dataset_names(names, msg):
    """The routing core's name rule, as the multi-dataset models apply it,
    named as the backbone's key."""
    with pytest.raises(ValueError, match=msg) as err:
        build_moe(names=names)
    assert 'MoEViT dataset_names' in str(err.value)


@pytest.mark.parametrize('p', [0, -4, 64, 100])
def test_bad_expert_channels(p):
    with pytest.raises(ValueError, match='expert_channels'):
        build_moe(p=p)


def test_mismatched_checkpoint_names_key_and_shapes(tmp_path):
    dense = build_dense(embed_dims=32, num_heads=4)
    moe = build_moe()
    with pytest.raises(ValueError) as err:
        moe.load_state_dict(dense.state_dict())
    assert "'cls_token'" in str(err.value)
    assert '(1, 1, 32)' in str(err.value) and '(1, 1, 64)' in str(err.value)
    ckpt = str(tmp_path / 'dense32.pth')
    save_checkpoint({'state_dict': dense.state_dict()}, ckpt)
    moe = build_moe(init_cfg=dict(type='Pretrained', checkpoint=ckpt))
    with pytest.raises(ValueError, match='has shape'):
        moe.init_weights()


def test_moe_checkpoint_with_other_expert_width_is_refused():
    src = build_moe(p=8)
    state = copy.deepcopy(src.state_dict())
    with pytest.raises(ValueError, match=r'layers\.0\.ffn\.layers\.1\.weight'):
        build_moe(p=P).load_state_dict(state)


def _flat(outs):
    return [t for out in outs
            for t in (out if isinstance(out, (list, tuple)) else [out])]


@pytest.mark.parametrize('options', [
    dict(out_origin=True),
    dict(output_cls_token=True),
    dict(with_cls_token=False, final_norm=False),
    dict(pre_norm=True, out_indices=(1, ), final_norm=False),
])
def test_forward_equals_mmseg_vit_for_every_output_option(options):
    """MoEViT runs mmseg's ViT loop with ``layer(x, groups)``: for every
    output option it gives mmseg's outputs (same weights, mixed batch)."""
    dense = build_dense(**options)
    moe = loaded_moe(dense, **options)
    x = torch.randn(3, 3, 64, 64)
    with torch.no_grad():
        ref, got = _flat(dense(x)), _flat(moe(x, torch.tensor([1, 0, 1])))
    assert len(got) == len(ref) > 0
    assert [t.shape for t in got] == [t.shape for t in ref]
    assert max_diff(got, ref) <= 1e-5


def test_layers_hold_no_routing_state():
    """The routing is an argument, not an attribute set around forward."""
    moe = build_moe()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        moe(x, torch.tensor([1, 0]))
    for layer in moe.layers:
        assert not hasattr(layer, 'expert_groups')
    tokens = torch.randn(2, 5, 64)
    with pytest.raises(TypeError, match='groups'):
        moe.layers[0](tokens)
    groups, perm = moe.expert_groups(torch.tensor([2, 0, 2]), 3)
    assert groups == ((0, 0, 1), (2, 1, 3))
    assert perm.tolist() == [1, 0, 2]
    with torch.no_grad():
        out = moe.layers[0](tokens, ((1, 0, 2), ))
    assert out.shape == tokens.shape
