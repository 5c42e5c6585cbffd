"""LayerDecayOptimWrapperConstructor: lr per layer and weight decay rules."""
import pytest
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS
from torch import nn

import s5_mm  # noqa: F401

L = 4
RATE = 0.9
LR = 1e-3
WD = 0.05


def segmentor(backbone_type='MoEViT'):
    init_default_scope('mmseg')
    backbone = dict(
        type=backbone_type, img_size=(32, 32), patch_size=8, embed_dims=32,
        num_layers=L, num_heads=2, out_indices=(1, 3), final_norm=True,
        pre_norm=True)
    if backbone_type == 'MoEViT':
        backbone.update(dataset_names=['a', 'b'], expert_channels=8)
    return MODELS.build(
        dict(type='EncoderDecoder',
             backbone=backbone,
             decode_head=dict(type='FCNHead', in_channels=32, channels=16,
                              num_convs=1, in_index=1, num_classes=3,
                              norm_cfg=dict(type='BN'))))


class StudentTeacher(nn.Module):

    def __init__(self):
        super().__init__()
        self.student = segmentor()
        self.teacher = segmentor()
        self.teacher.requires_grad_(False)


class MultiHead(nn.Module):

    def __init__(self):
        super().__init__()
        seg = segmentor('VisionTransformer')
        self.backbone = seg.backbone
        self.decode_head = nn.ModuleDict(
            dict(a=seg.decode_head, b=segmentor().decode_head))


def build(model, scope='mmseg', **paramwise):
    init_default_scope(scope)  # as in the configs (default_scope)
    name = 'LayerDecayOptimWrapperConstructor'
    cfg = dict(
        type='OptimWrapper',
        optimizer=dict(type='AdamW', lr=LR, weight_decay=WD),
        constructor=name if scope == 'mmseg' else f'mmseg.{name}',
        paramwise_cfg=dict(layer_decay_rate=RATE, **paramwise))
    groups = build_optim_wrapper(model, cfg).optimizer.param_groups
    return {g['param_name']: g for g in groups}


@pytest.mark.parametrize('model_fn,vit', [
    (segmentor, 'backbone.'),
    (StudentTeacher, 'student.backbone.'),
    (MultiHead, 'backbone.'),
])
def test_lr_follows_layer_decay_formula(model_fn, vit):
    groups = build(model_fn(), num_layers=L)

    def lr(name):
        return groups[vit + name]['lr']

    assert lr('patch_embed.projection.weight') == pytest.approx(
        LR * RATE**(L + 1))
    assert lr('pos_embed') == pytest.approx(LR * RATE**(L + 1))
    assert lr('cls_token') == pytest.approx(LR * RATE**(L + 1))
    assert lr('ln_pre.weight') == pytest.approx(LR * RATE**(L + 1))
    assert lr('layers.0.attn.attn.in_proj_weight') == pytest.approx(
        LR * RATE**L)
    assert lr('layers.2.ln2.weight') == pytest.approx(LR * RATE**(L - 2))
    assert lr(f'layers.{L - 1}.ffn.layers.0.0.weight') == pytest.approx(
        LR * RATE)
    assert lr('ln1.weight') == pytest.approx(LR)  # final norm
    heads = [g for n, g in groups.items() if 'decode_head' in n]
    assert heads and all(g['lr'] == pytest.approx(LR) for g in heads)
    # teacher parameters are frozen: not optimised
    assert not any(n.startswith('teacher.') for n in groups)


def test_moe_experts_get_their_layer_lr():
    groups = build(segmentor())
    assert groups['backbone.layers.1.ffn.experts.1.weight']['lr'] == \
        pytest.approx(LR * RATE**(L - 1))
    assert groups['backbone.layers.1.ffn.layers.1.weight']['lr'] == \
        pytest.approx(LR * RATE**(L - 1))


def test_no_weight_decay_on_norms_biases_embeddings():
    groups = build(segmentor())
    zero = ['backbone.pos_embed', 'backbone.cls_token',
            'backbone.layers.0.ln1.weight', 'backbone.layers.0.ln1.bias',
            'backbone.layers.0.ffn.experts.0.bias', 'backbone.ln1.bias',
            'backbone.ln_pre.weight', 'decode_head.conv_seg.bias',
            'decode_head.convs.0.bn.weight']
    for name in zero:
        assert groups[name]['weight_decay'] == 0, name
    for name in ['backbone.layers.0.ffn.experts.0.weight',
                 'backbone.layers.3.attn.attn.in_proj_weight',
                 'backbone.patch_embed.projection.weight',
                 'decode_head.conv_seg.weight']:
        assert groups[name]['weight_decay'] == WD, name


def test_usable_from_mmdet_scope():
    groups = build(segmentor(), scope='mmdet', num_layers=L)
    assert groups['backbone.layers.0.ln1.weight']['lr'] == pytest.approx(
        LR * RATE**L)


def test_wrong_num_layers_is_refused():
    with pytest.raises(ValueError, match='num_layers=4'):
        build(segmentor(), num_layers=24)


def test_model_without_vit_is_refused():
    with pytest.raises(ValueError, match='found no mmseg VisionTransformer'):
        build(nn.Sequential(nn.Linear(2, 2)))
