"""Convert an MAE / timm ViT checkpoint to mmseg ``VisionTransformer`` keys.

The key mapping is mmseg's own ``vit2mmseg.convert_vit``; on top of it this
script drops MAE's decoder and classification parts, resizes the position
embedding to the fine-tuning input size and, optionally, the patch-embedding
kernel to another patch size (e.g. MAE's ViT-H/14 to the /16 of S5's
configs, by the pseudo-inverse resize of FlexiViT).

Example (ViT-B, 512x512 inputs)::

    python tools/model_converters/mae2mmseg.py \\
        mae_pretrain_vit_base.pth pretrain/mae_vit-b16_512.pth --img-size 512

The result loads into ``VisionTransformer`` / ``MoEViT`` through
``init_cfg=dict(type='Pretrained', checkpoint=...)``.
"""
import argparse
from collections import OrderedDict
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from ckpt_utils import (StateDict, check_fits, load_state_dict,
                        mmseg_converter, resize_pos_embed, save_state_dict)
from mmengine.logging import print_log

# MAE pre-training decoder, classification head and its pooling norm
DROPPED_PREFIXES = ('decoder_', 'mask_token', 'head.', 'fc_norm.')


def resize_patch_kernel(weight: torch.Tensor,
                        size: Sequence[int]) -> torch.Tensor:
    """Resize a patch-embedding kernel (O, I, h, w) to ``size`` so that a
    bilinearly resized patch gives the same embedding (FlexiViT's PI-resize:
    ``w_new = pinv(R^T) w`` for the resize operator R)."""
    old = tuple(weight.shape[-2:])
    size = tuple(size)
    if old == size:
        return weight
    n_old = old[0] * old[1]
    basis = torch.eye(n_old, dtype=torch.float64).reshape(n_old, 1, *old)
    # resize operator R (n_new, n_old): row j of R^T = resized basis image j
    resize_t = F.interpolate(
        basis, size=size, mode='bilinear',
        align_corners=False).reshape(n_old, -1)
    flat = weight.double().reshape(-1, n_old)  # rows: w^T
    new = flat @ torch.linalg.pinv(resize_t).T  # (pinv(R^T) w)^T
    return new.reshape(*weight.shape[:2], *size).to(weight.dtype)


def convert_mae(state_dict: StateDict,
                img_size: Optional[Sequence[int]] = None,
                patch_size: Optional[int] = None) -> StateDict:
    """MAE / timm ViT keys -> mmseg VisionTransformer keys.

    Args:
        state_dict (dict): MAE or timm ViT weights (``blocks.*``,
            ``patch_embed.proj.*``, ``cls_token``, ``pos_embed``, ``norm.*``).
        img_size (Sequence[int], optional): (H, W) of the target model's
            ``img_size``: ``pos_embed`` is resized to its patch grid.
        patch_size (int, optional): Target patch size (kernel resized).

    Returns:
        dict: mmseg keys (``layers.*``, ``patch_embed.projection.*``,
        ``ln1.*`` for MAE's final norm, ...).
    """
    if not any(k.startswith('blocks.') for k in state_dict):
        raise KeyError('no blocks.* keys: this is not an MAE / timm ViT '
                       f'checkpoint (first keys: {list(state_dict)[:5]})')
    kept = OrderedDict(
        (k, v) for k, v in state_dict.items()
        if not k.startswith(DROPPED_PREFIXES))
    dropped = sorted({k.split('.')[0] for k in state_dict} -
                     {k.split('.')[0] for k in kept})
    if dropped:
        print_log(f'dropped MAE parts: {dropped}', logger='current')
    out = mmseg_converter('vit2mmseg').convert_vit(kept)
    kernel = out['patch_embed.projection.weight']
    if patch_size is not None:
        out['patch_embed.projection.weight'] = resize_patch_kernel(
            kernel, (patch_size, patch_size))
    patch = out['patch_embed.projection.weight'].shape[-1]
    if img_size is not None and 'pos_embed' in out:
        grid = (img_size[0] // patch, img_size[1] // patch)
        out['pos_embed'] = resize_pos_embed(out['pos_embed'], grid)
    return out


def parse_args():
    parser = argparse.ArgumentParser(
        description='Convert MAE / timm ViT weights to mmseg keys')
    parser.add_argument('src', help='MAE / timm checkpoint')
    parser.add_argument('dst', help='output checkpoint')
    parser.add_argument(
        '--img-size', type=int, nargs='+',
        help='input size of the target model (one int or H W): pos_embed is '
        'resized to its patch grid')
    parser.add_argument(
        '--patch-size', type=int,
        help='target patch size, e.g. 16 for MAE ViT-H/14 weights')
    parser.add_argument(
        '--trust-checkpoint', action='store_true',
        help='unpickle non-tensor objects (only for trusted files)')
    parser.add_argument(
        '--check-config', metavar='CONFIG',
        help='config of the target model: the output must load into '
        'the backbone exactly (no missing, unexpected or '
        'reshaped weights), else the converter stops before writing')
    return parser.parse_args()


def main():
    args = parse_args()
    img_size = args.img_size
    if img_size is not None and len(img_size) == 1:
        img_size = img_size * 2
    state = convert_mae(
        load_state_dict(args.src, trust=args.trust_checkpoint), img_size,
        args.patch_size)
    if args.check_config:
        check_fits(state, args.check_config, part='backbone',
                   source=f'{args.src} converted')
    save_state_dict(state, args.dst, meta=dict(converted_from=args.src))


if __name__ == '__main__':
    main()
