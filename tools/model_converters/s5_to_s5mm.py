"""Convert the S5 authors' released checkpoints to s5_mm / mmseg keys.

Their layout (MiliLab/S5, ``model/backbone/vit*.py``): mmseg-style ViT keys
with a ``pos_embed`` of shape (1, N, C) (no cls slot; the cls token is
dropped before the encoder), MoE FFNs as ``layers.i.ffn.layers.1`` (shared
fc2, C - P rows) + ``layers.i.ffn.experts.k`` (P rows, k in their task
order), and the multi-scale neck inside the backbone (``fpn1`` ..
``fpn4``, with a channel LayerNorm ``fpn1.1.ln``). Full models keep the
backbone under ``encoder.``, UperNet decoders under ``semsegdecoder*`` and
classifiers under ``semseghead*``.

Output keys:

* ``backbone.*``: ``VisionTransformer`` / ``MoEViT`` (``with_cls_token=False``,
  ``patch_bias=True``; ``pos_embed`` gets a zero cls slot);
* ``neck.*``: ``Feature2PyramidLN`` (``neck=dict(type='Feature2PyramidLN')``);
* ``decode_head.*`` (S4P model) or ``decode_heads.<dataset>.*`` (MDF model,
  dataset = their attribute suffix, lower case) for
  ``MultiDatasetEncoderDecoder``.

Use the result with ``load_from``; ``--backbone-only`` writes the backbone
alone (no prefix) for ``backbone.init_cfg=dict(type='Pretrained', ...)``.
An MoEViT built from it must list its ``dataset_names`` in the authors'
task (expert) order.

Example::

    python tools/model_converters/s5_to_s5mm.py vit_b_s4p.pth s4p_vit-b.pth
"""
import argparse
import math
from collections import OrderedDict
from typing import Dict, Tuple

import torch
from ckpt_utils import (StateDict, check_fits, grid_of, load_state_dict,
                        save_state_dict)

# authors' neck (inside their ViT) -> Feature2PyramidLN / Feature2Pyramid
NECK_KEYS = OrderedDict([
    ('fpn1.0.', 'upsample_4x.0.'),
    ('fpn1.1.ln.', 'upsample_4x.1.'),
    ('fpn1.3.', 'upsample_4x.3.'),
    ('fpn2.0.', 'upsample_2x.0.'),
])
DECODER = 'semsegdecoder'
CLASSIFIER = 'semseghead'


def _is_square(num: int) -> bool:
    return math.isqrt(num)**2 == num


def add_cls_slot(pos_embed: torch.Tensor) -> torch.Tensor:
    """(1, N, C) without a cls slot -> mmseg's (1, 1 + N, C) (zero slot,
    unused with ``with_cls_token=False``). Already slotted: unchanged."""
    num = pos_embed.shape[1]
    if _is_square(num):
        slot = pos_embed.new_zeros(1, 1, pos_embed.shape[2])
        return torch.cat([slot, pos_embed], dim=1)
    grid_of(num - 1, 'pos_embed')  # raises unless 1 + square
    return pos_embed


def convert_backbone(state: StateDict) -> Tuple[StateDict, StateDict]:
    """Authors' backbone (with neck) -> (backbone keys, neck keys)."""
    backbone, neck = OrderedDict(), OrderedDict()
    for key, value in state.items():
        if key.startswith('fpn'):
            old = next((o for o in NECK_KEYS if key.startswith(o)), None)
            if old is None:
                raise KeyError(f"unexpected neck key '{key}': the S5 neck has "
                               f'parameters only under {list(NECK_KEYS)}')
            neck[NECK_KEYS[old] + key[len(old):]] = value
        elif key == 'pos_embed':
            backbone[key] = add_cls_slot(value)
        else:
            backbone[key] = value
    return backbone, neck


def convert_heads(state: StateDict) -> StateDict:
    """Authors' UperNet decoders + classifiers -> mmseg decode head keys."""
    classifiers = sorted({
        k.split('.')[0]
        for k in state if k.startswith(CLASSIFIER)
    })
    out = OrderedDict()
    if classifiers == [CLASSIFIER]:  # S4P model: one head
        routes = {'decode_head.': (DECODER, CLASSIFIER)}
    else:
        names = [c[len(CLASSIFIER) + 1:] for c in classifiers]
        unsuffixed = [n for n in names
                      if not any(k.startswith(f'{DECODER}_{n}.')
                                 for k in state)]
        if len(unsuffixed) > 1:
            raise ValueError(
                f'heads {unsuffixed} have no decoder {DECODER}_<name>; only '
                f'one of them can use the plain {DECODER}')
        routes = {
            f'decode_heads.{n.lower()}.':
            (DECODER if n in unsuffixed else f'{DECODER}_{n}',
             f'{CLASSIFIER}_{n}')
            for n in names
        }
    for prefix, (decoder, classifier) in routes.items():
        start = f'{decoder}.decode_head.'
        for key, value in state.items():
            if key.startswith(start) and not key.startswith(start +
                                                            'conv_seg.'):
                out[prefix + key[len(start):]] = value
        for name in ('weight', 'bias'):
            out[f'{prefix}conv_seg.{name}'] = state[f'{classifier}.1.{name}']
    return out


def convert_s5(state: StateDict) -> StateDict:
    """Any released S5 checkpoint (backbone only, S4P UperNet or MDF
    UperNet) -> s5_mm model keys (``backbone.``, ``neck.``, heads)."""
    if any(k.startswith('encoder.') for k in state):
        encoder = OrderedDict((k[len('encoder.'):], v)
                              for k, v in state.items()
                              if k.startswith('encoder.'))
        heads = convert_heads(state)
    else:
        encoder, heads = state, OrderedDict()
    if 'patch_embed.projection.weight' not in encoder:
        raise KeyError('no patch_embed.projection.weight: not an S5 ViT '
                       f'checkpoint (first keys: {list(encoder)[:5]})')
    backbone, neck = convert_backbone(encoder)
    out: Dict[str, torch.Tensor] = OrderedDict()
    out.update(('backbone.' + k, v) for k, v in backbone.items())
    out.update(('neck.' + k, v) for k, v in neck.items())
    out.update(heads)
    return out


def parse_args():
    parser = argparse.ArgumentParser(
        description="Convert the S5 authors' checkpoints to s5_mm keys")
    parser.add_argument('src', help="the authors' checkpoint")
    parser.add_argument('dst', help='output checkpoint')
    parser.add_argument(
        '--backbone-only', action='store_true',
        help='write only the backbone, without prefix (for backbone.init_cfg)')
    parser.add_argument(
        '--trust-checkpoint', action='store_true',
        help='unpickle non-tensor objects (only for trusted files)')
    parser.add_argument(
        '--check-config', metavar='CONFIG',
        help='config of the target model: the output must load into '
        'the model (its backbone with --backbone-only) exactly (no '
        'missing, unexpected or reshaped weights), else the converter '
        'stops before writing')
    return parser.parse_args()


def main():
    args = parse_args()
    state = convert_s5(load_state_dict(args.src, trust=args.trust_checkpoint))
    if args.backbone_only:
        state = OrderedDict((k[len('backbone.'):], v)
                            for k, v in state.items()
                            if k.startswith('backbone.'))
    if args.check_config:
        check_fits(state, args.check_config,
                   part='backbone' if args.backbone_only else None,
                   source=f'{args.src} converted')
    save_state_dict(state, args.dst, meta=dict(converted_from=args.src))


if __name__ == '__main__':
    main()
