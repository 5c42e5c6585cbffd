"""mae2mmseg and s5_to_s5mm on synthetic checkpoints with the real key names,
checked against independent forwards that read those names."""

import pytest
import torch
import torch.nn.functional as F
from mae2mmseg import convert_mae, resize_patch_kernel
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS
from reference_vit import random_state, s5_vit, timm_vit, vit_shapes
from s5_to_s5mm import convert_s5

import s5_mm  # noqa: F401
from script_runner import run_script

DIMS, HEADS, PATCH = 64, 4, 16
MAE_EXTRA = {  # MAE pre-training parts the converter must drop
    'mask_token': (1, 1, 32),
    'decoder_embed.weight': (32, DIMS),
    'decoder_pos_embed': (1, 17, 32),
    'decoder_blocks.0.norm1.weight': (32, ),
    'decoder_norm.weight': (32, ),
    'decoder_pred.weight': (PATCH * PATCH * 3, 32),
}


def build(cfg):
    init_default_scope('mmseg')
    model = MODELS.build(cfg)
    model.eval()
    return model


def vit_cfg(img=64, depth=2, type='VisionTransformer', **kw):
    return dict(type=type, img_size=(img, img),
                patch_size=PATCH, embed_dims=DIMS, num_layers=depth,
                num_heads=HEADS, patch_bias=True, **kw)


def close(outs, refs, tol=1e-5):
    assert len(outs) == len(refs)
    return max((a - b).abs().max().item() for a, b in zip(outs, refs)) <= tol


# ----------------------------------------------------------------- mae2mmseg
def test_mae_checkpoint_reproduces_mae_vit():
    sd = random_state(vit_shapes('timm', DIMS, 2, PATCH, 4, extra=MAE_EXTRA))
    converted = convert_mae(sd)
    assert not any(k.startswith(('decoder', 'mask_token')) for k in converted)
    img = torch.randn(2, 3, 64, 64)
    ref = timm_vit(sd, img, HEADS, PATCH)
    mmseg_cfg = vit_cfg(out_indices=(0, 1), final_norm=True,
                        norm_cfg=dict(type='LN', eps=1e-6))
    for cfg in (mmseg_cfg, dict(mmseg_cfg, type='MoEViT', expert_channels=16,
                                dataset_names=['a', 'b'])):
        model = build(cfg)
        model.load_state_dict(converted, strict=True)
        with torch.no_grad():
            outs = model(img) if cfg['type'] == 'VisionTransformer' else \
                model(img, torch.tensor([1, 0]))
        assert close(outs, ref)


def test_mae_pos_embed_resized_to_target_size():
    sd = random_state(vit_shapes('timm', DIMS, 2, PATCH, 2))  # 32 px MAE
    converted = convert_mae(sd, img_size=(64, 64))
    assert converted['pos_embed'].shape == (1, 1 + 16, DIMS)
    # reference: resize the 2x2 grid bicubically, keep the cls slot
    pos = sd['pos_embed']
    grid = pos[:, 1:].reshape(1, 2, 2, DIMS).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=(4, 4), mode='bicubic',
                         align_corners=False).flatten(2).transpose(1, 2)
    ref_sd = dict(sd, pos_embed=torch.cat([pos[:, :1], grid], dim=1))
    img = torch.randn(1, 3, 64, 64)
    model = build(vit_cfg(out_indices=(0, 1), final_norm=True,
                          norm_cfg=dict(type='LN', eps=1e-6)))
    model.load_state_dict(converted, strict=True)
    with torch.no_grad():
        assert close(model(img), timm_vit(ref_sd, img, HEADS, PATCH))


def test_patch_kernel_resize_keeps_patch_embedding():
    weight = torch.randn(8, 3, 14, 14)
    new = resize_patch_kernel(weight, (16, 16))
    assert new.shape == (8, 3, 16, 16)
    patches = torch.randn(5, 3, 14, 14)
    resized = F.interpolate(patches, size=(16, 16), mode='bilinear',
                            align_corners=False)
    ref = F.conv2d(patches, weight)
    assert (F.conv2d(resized, new) - ref).abs().max() <= 1e-3 * ref.abs().max()


def test_mae_cli(tmp_path, repo_root):
    sd = random_state(vit_shapes('timm', DIMS, 2, PATCH, 2, extra=MAE_EXTRA))
    src, dst = tmp_path / 'mae.pth', tmp_path / 'out' / 'vit.pth'
    torch.save({'model': sd}, src)
    proc = run_script(['tools/model_converters/mae2mmseg.py', str(src),
                       str(dst), '--img-size', '64'], cwd=repo_root)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = torch.load(dst)['state_dict']
    assert out['pos_embed'].shape == (1, 17, DIMS)
    assert torch.equal(out['layers.1.ffn.layers.1.weight'],
                       sd['blocks.1.mlp.fc2.weight'])
    assert torch.equal(out['ln1.bias'], sd['norm.bias'])


def test_mae_refuses_other_checkpoints():
    with pytest.raises(KeyError, match='not an MAE'):
        convert_mae({'layers.0.ln1.weight': torch.ones(2)})


# ---------------------------------------------------------------- s5_to_s5mm
OUT = (0, 1, 2, 3)
TASKS = ['vaihingen', 'potsdam', 'loveda']


def s5_models(experts):
    backbone = build(vit_cfg(
        type='MoEViT', depth=4, out_indices=OUT, with_cls_token=False,
        dataset_names=TASKS, expert_channels=16))
    neck = build(dict(type='Feature2PyramidLN', embed_dim=DIMS))
    return backbone, neck


def load_converted(converted, module, prefix):
    module.load_state_dict(
        {k[len(prefix):]: v for k, v in converted.items()
         if k.startswith(prefix)}, strict=True)


@pytest.mark.parametrize('experts', [len(TASKS), 0])
def test_s5_checkpoint_reproduces_authors_backbone(experts):
    """MoE-MDF checkpoint (3 experts) and dense S4P checkpoint (0)."""
    sd = random_state(
        vit_shapes('s5', DIMS, 4, PATCH, 4, experts=experts, p=16))
    converted = convert_s5(sd)
    assert converted['backbone.pos_embed'].shape == (1, 17, DIMS)
    backbone, neck = s5_models(experts)
    load_converted(converted, backbone, 'backbone.')
    load_converted(converted, neck, 'neck.')
    img = torch.randn(3, 3, 64, 64)
    with torch.no_grad():
        for task in range(len(TASKS)):
            ref = s5_vit(sd, img, HEADS, PATCH, task, OUT)
            assert close(neck(backbone(img, task)), ref)
        mixed = neck(backbone(img, torch.tensor([2, 0, 1])))
        for b, task in enumerate([2, 0, 1]):
            ref = s5_vit(sd, img[b:b + 1], HEADS, PATCH, task, OUT)
            assert close([m[b:b + 1] for m in mixed], ref)


def uper_state(prefix, num_classes=1, seed=0):
    torch.manual_seed(seed)
    head = build(dict(type='UPerHead', in_channels=[DIMS] * 4,
                      in_index=[0, 1, 2, 3], channels=16,
                      num_classes=num_classes, norm_cfg=dict(type='BN')))
    for m in head.modules():  # non-trivial BN statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    return head, {prefix + k: v for k, v in head.state_dict().items()}


def test_s5_full_mdf_model_heads():
    backbone = random_state(
        vit_shapes('s5', DIMS, 4, PATCH, 4, experts=2, p=16))
    state = {'encoder.' + k: v for k, v in backbone.items()}
    decoders, classifiers = {}, {}
    for i, (name, decoder, ncls) in enumerate([
            ('vaihingen', 'semsegdecoder', 6),
            ('OpenEarthMap', 'semsegdecoder_OpenEarthMap', 8)]):
        decoders[name], dec_state = uper_state(f'{decoder}.decode_head.',
                                               seed=i)
        state.update(dec_state)
        classifiers[name] = torch.nn.Conv2d(16, ncls, 1)
        state[f'semseghead_{name}.1.weight'] = classifiers[name].weight
        state[f'semseghead_{name}.1.bias'] = classifiers[name].bias
    converted = convert_s5(state)
    feats = [torch.randn(2, DIMS, s, s) for s in (16, 8, 4, 2)]
    for name, ncls in (('vaihingen', 6), ('OpenEarthMap', 8)):
        head, _ = uper_state('', num_classes=ncls, seed=7)
        load_converted(converted, head, f'decode_heads.{name.lower()}.')
        with torch.no_grad():
            ref = classifiers[name](decoders[name]._forward_feature(feats))
            assert close([head(feats)], [ref])
    assert torch.equal(converted['backbone.layers.3.ffn.experts.1.bias'],
                       backbone['layers.3.ffn.experts.1.bias'])


def test_s5_s4p_model_single_head():
    state = {'encoder.' + k: v for k, v in random_state(
        vit_shapes('s5', DIMS, 4, PATCH, 4)).items()}
    decoder, dec_state = uper_state('semsegdecoder.decode_head.')
    state.update(dec_state)
    classifier = torch.nn.Conv2d(16, 16, 1)
    state['semseghead.1.weight'] = classifier.weight
    state['semseghead.1.bias'] = classifier.bias
    converted = convert_s5(state)
    head, _ = uper_state('', num_classes=16, seed=3)
    load_converted(converted, head, 'decode_head.')
    feats = [torch.randn(1, DIMS, s, s) for s in (16, 8, 4, 2)]
    with torch.no_grad():
        assert close([head(feats)],
                     [classifier(decoder._forward_feature(feats))])


def test_s5_errors():
    sd = random_state(vit_shapes('s5', DIMS, 1, PATCH, 4))
    with pytest.raises(KeyError, match="fpn3.weight"):
        convert_s5(dict(sd, **{'fpn3.weight': torch.ones(1)}))
    with pytest.raises(KeyError, match='not an S5 ViT'):
        convert_s5({'blocks.0.norm1.weight': torch.ones(1)})
    with pytest.raises(ValueError, match='not a square'):
        convert_s5(dict(sd, pos_embed=torch.zeros(1, 7, DIMS)))
