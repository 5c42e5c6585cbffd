"""Independent functional ViT forwards that read weights by the key names of
other code bases (MAE/timm, the S5 authors), to check the converters."""
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F

StateDict = Dict[str, torch.Tensor]


def attention(x, qkv_w, qkv_b, proj_w, proj_b, heads):
    b, n, c = x.shape
    qkv = F.linear(x, qkv_w, qkv_b).reshape(b, n, 3, heads, c // heads)
    q, k, v = qkv.permute(2, 0, 3, 1, 4)
    weights = (q @ k.transpose(-2, -1) * (c // heads)**-0.5).softmax(-1)
    return F.linear((weights @ v).transpose(1, 2).reshape(b, n, c), proj_w,
                    proj_b)


def block(x, p: StateDict, heads: int, eps: float):
    c = x.shape[-1]
    h = F.layer_norm(x, (c, ), p['ln1_w'], p['ln1_b'], eps)
    x = x + attention(h, p['qkv_w'], p['qkv_b'], p['proj_w'], p['proj_b'],
                      heads)
    h = F.layer_norm(x, (c, ), p['ln2_w'], p['ln2_b'], eps)
    h = F.gelu(F.linear(h, p['fc1_w'], p['fc1_b']))
    return x + F.linear(h, p['fc2_w'], p['fc2_b'])


def to_map(tokens, hw):
    b, _, c = tokens.shape
    return tokens.reshape(b, hw[0], hw[1], c).permute(0, 3, 1, 2)


def timm_vit(sd: StateDict, img, heads: int, patch: int, eps: float = 1e-6):
    """MAE/timm ViT: cls token, pos_embed with cls slot, final ``norm``.
    Returns every block's patch tokens as maps (last one normalised)."""
    x = F.conv2d(img, sd['patch_embed.proj.weight'],
                 sd['patch_embed.proj.bias'], stride=patch)
    hw = x.shape[-2:]
    x = x.flatten(2).transpose(1, 2)
    pos = sd['pos_embed']
    cls = (sd['cls_token'] + pos[:, :1]).expand(x.shape[0], -1, -1)
    x = torch.cat([cls, x + pos[:, 1:]], dim=1)
    outs = []
    depth = 1 + max(
        int(k.split('.')[1]) for k in sd if k.startswith('blocks.'))
    for i in range(depth):
        b = f'blocks.{i}.'
        x = block(x, dict(
            ln1_w=sd[b + 'norm1.weight'], ln1_b=sd[b + 'norm1.bias'],
            qkv_w=sd[b + 'attn.qkv.weight'], qkv_b=sd[b + 'attn.qkv.bias'],
            proj_w=sd[b + 'attn.proj.weight'],
            proj_b=sd[b + 'attn.proj.bias'],
            ln2_w=sd[b + 'norm2.weight'], ln2_b=sd[b + 'norm2.bias'],
            fc1_w=sd[b + 'mlp.fc1.weight'], fc1_b=sd[b + 'mlp.fc1.bias'],
            fc2_w=sd[b + 'mlp.fc2.weight'], fc2_b=sd[b + 'mlp.fc2.bias']),
            heads, eps)
        outs.append(x)
    c = x.shape[-1]
    outs[-1] = F.layer_norm(outs[-1], (c, ), sd['norm.weight'],
                            sd['norm.bias'], eps)
    return [to_map(o[:, 1:], hw) for o in outs]


def s5_vit(sd: StateDict, img, heads: int, patch: int, task: int,
           out_indices: Sequence[int],
           eps: float = 1e-5) -> List[torch.Tensor]:
    """The S5 authors' MoE ViT + in-backbone neck (fpn1..fpn4): pos_embed
    without cls slot, cls token dropped, fc2 = [shared; experts.task]."""
    x = F.conv2d(img, sd['patch_embed.projection.weight'],
                 sd['patch_embed.projection.bias'], stride=patch)
    hw = x.shape[-2:]
    x = x.flatten(2).transpose(1, 2) + sd['pos_embed']
    outs = []
    depth = 1 + max(
        int(k.split('.')[1]) for k in sd if k.startswith('layers.'))
    for i in range(depth):
        b = f'layers.{i}.'
        fc2_w = sd[b + 'ffn.layers.1.weight']
        fc2_b = sd[b + 'ffn.layers.1.bias']
        if b + f'ffn.experts.{task}.weight' in sd:
            fc2_w = torch.cat([fc2_w, sd[b + f'ffn.experts.{task}.weight']])
            fc2_b = torch.cat([fc2_b, sd[b + f'ffn.experts.{task}.bias']])
        x = block(x, dict(
            ln1_w=sd[b + 'ln1.weight'], ln1_b=sd[b + 'ln1.bias'],
            qkv_w=sd[b + 'attn.attn.in_proj_weight'],
            qkv_b=sd[b + 'attn.attn.in_proj_bias'],
            proj_w=sd[b + 'attn.attn.out_proj.weight'],
            proj_b=sd[b + 'attn.attn.out_proj.bias'],
            ln2_w=sd[b + 'ln2.weight'], ln2_b=sd[b + 'ln2.bias'],
            fc1_w=sd[b + 'ffn.layers.0.0.weight'],
            fc1_b=sd[b + 'ffn.layers.0.0.bias'], fc2_w=fc2_w, fc2_b=fc2_b),
            heads, eps)
        if i in out_indices:
            outs.append(to_map(x, hw))
    c = x.shape[-1]
    f1 = F.conv_transpose2d(outs[0], sd['fpn1.0.weight'], sd['fpn1.0.bias'],
                            stride=2)
    f1 = F.layer_norm(f1.permute(0, 2, 3, 1), (c, ), sd['fpn1.1.ln.weight'],
                      sd['fpn1.1.ln.bias'], 1e-6).permute(0, 3, 1, 2)
    f1 = F.conv_transpose2d(F.gelu(f1), sd['fpn1.3.weight'],
                            sd['fpn1.3.bias'], stride=2)
    f2 = F.conv_transpose2d(outs[1], sd['fpn2.0.weight'], sd['fpn2.0.bias'],
                            stride=2)
    return [f1, f2, outs[2], F.max_pool2d(outs[3], 2)]


def random_state(shapes: Dict[str, Sequence[int]],
                 seed: int = 0) -> StateDict:
    """Random weights; norm weights around 1."""
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for key, shape in shapes.items():
        value = torch.randn(*shape, generator=gen) * 0.05
        if ('norm' in key or '.ln' in key) and key.endswith('weight'):
            value = value + 1.0
        out[key] = value
    return out


def vit_shapes(style: str, dims: int, depth: int, patch: int, grid: int,
               experts: int = 0, p: int = 0,
               extra: Optional[dict] = None) -> Dict[str, tuple]:
    """Key -> shape of a ViT in ``style`` 'timm' (MAE) or 's5'."""
    hidden = 4 * dims
    if style == 'timm':
        shapes = {
            'cls_token': (1, 1, dims),
            'pos_embed': (1, grid * grid + 1, dims),
            'patch_embed.proj.weight': (dims, 3, patch, patch),
            'patch_embed.proj.bias': (dims, ),
            'norm.weight': (dims, ), 'norm.bias': (dims, ),
        }
        names = dict(ln1='norm1', ln2='norm2', qkv='attn.qkv',
                     proj='attn.proj', fc1='mlp.fc1', fc2='mlp.fc2',
                     layer='blocks')
    else:
        shapes = {
            'cls_token': (1, 1, dims),
            'pos_embed': (1, grid * grid, dims),
            'patch_embed.projection.weight': (dims, 3, patch, patch),
            'patch_embed.projection.bias': (dims, ),
            'fpn1.0.weight': (dims, dims, 2, 2), 'fpn1.0.bias': (dims, ),
            'fpn1.1.ln.weight': (dims, ), 'fpn1.1.ln.bias': (dims, ),
            'fpn1.3.weight': (dims, dims, 2, 2), 'fpn1.3.bias': (dims, ),
            'fpn2.0.weight': (dims, dims, 2, 2), 'fpn2.0.bias': (dims, ),
        }
        names = dict(ln1='ln1', ln2='ln2', qkv='attn.attn.in_proj_',
                     proj='attn.attn.out_proj', fc1='ffn.layers.0.0',
                     fc2='ffn.layers.1', layer='layers')
    for i in range(depth):
        b = f"{names['layer']}.{i}."
        shared = dims - p if experts else dims
        for part, (out_c, in_c) in dict(
                ln1=(dims, 0), ln2=(dims, 0), proj=(dims, dims),
                fc1=(hidden, dims), fc2=(shared, hidden)).items():
            shapes[f'{b}{names[part]}.weight'] = (out_c, in_c) if in_c else (
                out_c, )
            shapes[f'{b}{names[part]}.bias'] = (out_c, )
        qkv = names['qkv']
        sep = '' if qkv.endswith('_') else '.'
        shapes[f'{b}{qkv}{sep}weight'] = (3 * dims, dims)
        shapes[f'{b}{qkv}{sep}bias'] = (3 * dims, )
        for k in range(experts):
            shapes[f'{b}ffn.experts.{k}.weight'] = (p, hidden)
            shapes[f'{b}ffn.experts.{k}.bias'] = (p, )
    shapes.update(extra or {})
    return shapes
