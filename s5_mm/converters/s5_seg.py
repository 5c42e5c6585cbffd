"""The S5 authors' released segmentation and S4P checkpoints -> s5_mm keys.

Their files (MiliLab/S5):

* ``s4p-upernet``: ``{vit}_s4p_upernet.pth`` of ``S4_Pretrain/s4_pretrain.py``,
  ``{"model": DDP state dict}``: ``module.encoder.*`` (their ViT with the
  ``fpn1``..``fpn4`` neck inside), ``module.semsegdecoder.decode_head.*``
  (mmseg's UPerHead built with ``num_classes=1``) and
  ``module.semseghead.1.*`` (the classifier, after a Dropout2d);
* ``s4p-encoder``: ``{vit}_s4p.pth``, ``{"model": encoder.state_dict()}``;
* ``seg-moe-mdf``: ``RS_Finetune/Semantic_Segmentation/md_finetune.py``,
  ``{'model': DDP state dict, 'previous_best_avg_mIoU'}``: the MoE encoder
  (``layers.i.ffn.experts.k``, k in their ``--tasks`` order, by default
  vaihingen, potsdam, openearthmap, loveda), ``semsegdecoder`` (the first
  task's) and ``semsegdecoder_<Name>``, ``semseghead_<Name>`` per task.

Targets: ``backbone.*`` (mmseg ``VisionTransformer`` / ``MoEViT`` with
``with_cls_token=False``, ``patch_bias=True``; ``pos_embed`` gets a zero,
unused cls slot), ``neck.*`` (``Feature2PyramidLN``) and ``decode_head.*``
(S4P) or ``decode_heads.<name lower case>.*`` (MDF), the layout of mmseg's
``EncoderDecoder`` and ``MultiDatasetEncoderDecoder``.

Every source key is consumed or dropped with a reason; every converted key
is checked against the state dict of the architecture the checkpoint
describes (built on the meta device), so a missing, unknown or misshapen
tensor stops the conversion with its key named.
"""
import math
import re
from collections import OrderedDict
from typing import Dict, List, Optional, Tuple

import torch

from s5_mm.utils.meta_device import MetaTensors

from .report import (ConversionReport, KindMismatchError, MissingKeyError,
                     ShapeMismatchError, UnknownKeyError)

StateDict = Dict[str, torch.Tensor]

SEG_KINDS = ('s4p-upernet', 's4p-encoder', 'seg-moe-mdf')
DET_KIND = 'det-moe-mdf'
KINDS = SEG_KINDS + (DET_KIND, )
#: the authors' expert order (md_finetune.py ``--tasks`` default)
AUTHORS_TASKS = ('vaihingen', 'potsdam', 'openearthmap', 'loveda')
#: key prefixes of their OBBDetection detector (OBBTwoStageDetectorMTD)
DET_PREFIXES = ('neck_', 'rpn_head_', 'roi_head_')

ENCODER, DECODER, CLASSIFIER = 'encoder.', 'semsegdecoder', 'semseghead'
# the authors' ViT (model/backbone/vit*.py), names as in mmseg's ViT
VIT_KEY = re.compile(
    r'(cls_token|pos_embed|patch_embed\.projection\.(weight|bias)'
    r'|layers\.\d+\.(ln1|ln2)\.(weight|bias)'
    r'|layers\.\d+\.attn\.attn\.(in_proj_weight|in_proj_bias'
    r'|out_proj\.weight|out_proj\.bias)'
    r'|layers\.\d+\.ffn\.(layers\.0\.0|layers\.1|experts\.\d+)'
    r'\.(weight|bias))$')
# their neck inside the ViT -> Feature2PyramidLN (fpn3 identity, fpn4 pool)
NECK_KEYS = OrderedDict([
    ('fpn1.0.', 'upsample_4x.0.'),
    ('fpn1.1.ln.', 'upsample_4x.1.'),
    ('fpn1.3.', 'upsample_4x.3.'),
    ('fpn2.0.', 'upsample_2x.0.'),
])
PLACEHOLDER = ('the UPerHead placeholder classifier (built with num_classes=1'
               "); the authors' forward uses decode_head._forward_feature "
               'and their semseghead classifier instead')


def strip_ddp(state: StateDict) -> Tuple[StateDict, bool]:
    """Remove the DDP ``module.`` prefix (all keys or none)."""
    with_prefix = [k.startswith('module.') for k in state]
    if not any(with_prefix):
        return OrderedDict(state), False
    if not all(with_prefix):
        key = next(k for k, p in zip(state, with_prefix) if not p)
        raise UnknownKeyError(f"key '{key}' lacks the DDP 'module.' prefix "
                              'that the other keys have')
    return OrderedDict((k[7:], v) for k, v in state.items()), True


def detect_kind(state: StateDict) -> str:
    """The kind of a released checkpoint, from its keys (``module.``
    stripped or not)."""
    keys = [k[7:] if k.startswith('module.') else k for k in state]
    if any(k.startswith(DET_PREFIXES) for k in keys) or _is_obbdet(state):
        return DET_KIND
    if any(k.startswith(CLASSIFIER + '_') for k in keys):
        return 'seg-moe-mdf'
    if any(k.startswith(CLASSIFIER + '.') for k in keys):
        return 's4p-upernet'
    if 'patch_embed.projection.weight' in keys:
        return 's4p-encoder'
    raise MissingKeyError(
        'no patch_embed.projection.weight, semseghead* or detector heads: '
        f'not an S5 ViT checkpoint (first keys: {keys[:5]})')


def _is_obbdet(state: StateDict) -> bool:
    try:
        from .obbdet import is_obbdet
    except ImportError:
        return False
    return bool(is_obbdet(state))


def check_kind(detected: str, requested: Optional[str]) -> str:
    """``requested`` if it agrees with the keys, else a named error."""
    if requested is None or requested == detected:
        return detected
    if requested not in KINDS:
        raise KindMismatchError(f'unknown kind {requested!r}; one of {KINDS}')
    raise KindMismatchError(
        f'the checkpoint was given as {requested!r} but its keys are those '
        f'of a {detected!r} checkpoint: pass --kind {detected} (or no '
        '--kind)')


def _pos_embed(value: torch.Tensor) -> torch.Tensor:
    """(1, N, C) without cls slot -> (1, 1 + N, C) with a zero slot."""
    num = value.shape[1]
    if math.isqrt(num)**2 == num:
        return torch.cat([value.new_zeros(1, 1, value.shape[2]), value], 1)
    if math.isqrt(num - 1)**2 == num - 1:
        return value
    raise ShapeMismatchError(f"'pos_embed' has {num} tokens, not a square "
                             'grid (with or without a cls slot)')


def _convert_encoder(state: StateDict, src: str, out: StateDict,
                     origin: Dict[str, str]) -> None:
    for key, value in state.items():
        name = src + key
        if key.startswith('fpn'):
            old = next((o for o in NECK_KEYS if key.startswith(o)), None)
            if old is None or key[len(old):] not in ('weight', 'bias'):
                raise UnknownKeyError(
                    f"unexpected neck key '{name}': the S5 neck has "
                    f'parameters only under {list(NECK_KEYS)}')
            target = 'neck.' + NECK_KEYS[old] + key[len(old):]
        elif VIT_KEY.match(key):
            target = 'backbone.' + key
            if key == 'pos_embed':
                value = _pos_embed(value)
        else:
            raise UnknownKeyError(f"unknown key '{name}' in the S5 ViT")
        out[target], origin[target] = value, name


def _head_routes(keys: List[str]) -> Dict[str, Tuple[str, str]]:
    """Target head prefix -> (source decoder, source classifier)."""
    classifiers = sorted({k.split('.')[0] for k in keys
                          if k.startswith(CLASSIFIER)})
    decoders = {k.split('.')[0] for k in keys if k.startswith(DECODER)}
    if classifiers == [CLASSIFIER]:
        routes = {'decode_head.': (DECODER, CLASSIFIER)}
    else:
        names = [c[len(CLASSIFIER) + 1:] for c in classifiers]
        plain = [n for n in names if f'{DECODER}_{n}' not in decoders]
        if len(plain) > 1:
            raise MissingKeyError(
                f'heads {plain} have no decoder {DECODER}_<name>; only one '
                f'of them can use the plain {DECODER}')
        routes = {
            f'decode_heads.{n.lower()}.':
            (DECODER if n in plain else f'{DECODER}_{n}',
             f'{CLASSIFIER}_{n}')
            for n in names
        }
    unused = decoders - {d for d, _ in routes.values()}
    if unused:
        raise UnknownKeyError(f'decoder(s) {sorted(unused)} have no '
                              f'classifier {CLASSIFIER}_<name>')
    return routes


def _convert_heads(state: StateDict, out: StateDict, origin: Dict[str, str],
                   dropped: Dict[str, str]) -> None:
    routes = _head_routes(list(state))
    for prefix, (decoder, classifier) in routes.items():
        start = f'{decoder}.decode_head.'
        for key, value in state.items():
            if not key.startswith(start):
                continue
            rest = key[len(start):]
            if rest.startswith('conv_seg.'):
                dropped[key] = PLACEHOLDER
                continue
            out[prefix + rest], origin[prefix + rest] = value, key
        for name in ('weight', 'bias'):
            key = f'{classifier}.1.{name}'
            if key not in state:
                raise MissingKeyError(f"missing '{key}' (the classifier of "
                                      f"'{prefix[:-1]}')")
            out[f'{prefix}conv_seg.{name}'] = state[key]
            origin[f'{prefix}conv_seg.{name}'] = key


def convert_seg(state: StateDict,
                kind: Optional[str] = None) -> Tuple[StateDict,
                                                     ConversionReport]:
    """Convert a released S4P / segmentation checkpoint.

    Args:
        state (dict): The checkpoint's state dict (with or without the DDP
            ``module.`` prefix).
        kind (str, optional): One of :data:`SEG_KINDS`; checked against the
            keys. Defaults to the kind the keys show.

    Returns:
        tuple: The target state dict and the :class:`ConversionReport`.

    Raises:
        ConversionError: A key missing, unknown, misshapen, or the kind
            wrong; the message names the key.
    """
    kind = check_kind(detect_kind(state), kind)
    if kind not in SEG_KINDS:
        raise KindMismatchError(f'{kind!r} is not a segmentation / S4P kind'
                                f' ({SEG_KINDS}): use the detection converter')
    state, had_prefix = strip_ddp(state)
    out: StateDict = OrderedDict()
    origin: Dict[str, str] = {}
    dropped: Dict[str, str] = OrderedDict()
    if kind == 's4p-encoder':
        _convert_encoder(state, '', out, origin)
    else:
        encoder = OrderedDict((k[len(ENCODER):], v) for k, v in state.items()
                              if k.startswith(ENCODER))
        _convert_encoder(encoder, ENCODER, out, origin)
        rest = OrderedDict((k, v) for k, v in state.items()
                           if not k.startswith(ENCODER))
        other = [k for k in rest if not k.startswith((DECODER, CLASSIFIER))]
        if other:
            raise UnknownKeyError(f'unknown key(s) {other[:5]} (neither '
                                  f'{ENCODER}, {DECODER}* nor {CLASSIFIER}*)')
        _convert_heads(rest, out, origin, dropped)
    report = ConversionReport(kind, consumed=sorted(set(origin.values()),
                                                    key=list(state).index),
                              dropped=dropped, filled=list(out),
                              sources=origin)
    report.check_complete(state)
    if had_prefix:
        report.notes.append("the DDP 'module.' prefix was removed from "
                            f'all {len(state)} source keys')
    experts = _num_experts(out)
    if kind == 'seg-moe-mdf' and experts:
        report.notes.append(
            f'{experts} experts per FFN: list MoEViT dataset_names in the '
            "authors' task order (md_finetune.py --tasks, by default "
            f'{list(AUTHORS_TASKS)})')
    check_target(out, origin, expected_shapes(out, kind))
    return out, report


def _num_experts(out: StateDict) -> int:
    ids = {int(k.split('.')[5]) for k in out
           if k.startswith('backbone.layers.0.ffn.experts.')}
    if ids and ids != set(range(len(ids))):
        raise MissingKeyError(f'experts of layer 0 are {sorted(ids)}, not '
                              f'0..{len(ids) - 1}')
    return len(ids)


def expected_shapes(out: StateDict, kind: str) -> Dict[str, torch.Size]:
    """Key -> shape of the architecture the converted weights describe:
    s5_mm's modules (``VisionTransformer`` / ``MoEViT``,
    ``Feature2PyramidLN``, ``FinalResizeUPerHead``) built on the meta
    device from the sizes read off the checkpoint."""
    import s5_mm  # noqa: F401  (registers the modules)
    from mmseg.registry import MODELS

    def need(key: str) -> torch.Tensor:
        if key not in out:
            raise MissingKeyError(f"missing '{key}' (the source has no "
                                  'tensor for it)')
        return out[key]

    proj = need('backbone.patch_embed.projection.weight')
    dims, patch = proj.shape[0], proj.shape[-1]
    depth = 1 + max(int(k.split('.')[2]) for k in out
                    if k.startswith('backbone.layers.'))
    hidden = need('backbone.layers.0.ffn.layers.0.0.weight').shape[0]
    grid = math.isqrt(need('backbone.pos_embed').shape[1] - 1)
    if hidden % dims:
        raise ShapeMismatchError(
            f"'layers.0.ffn.layers.0.0.weight' has {hidden} rows, not a "
            f'multiple of the {dims} embedding channels')
    experts = _num_experts(out)
    vit = dict(type='VisionTransformer', img_size=grid * patch,
               patch_size=patch, in_channels=proj.shape[1], embed_dims=dims,
               num_layers=depth, num_heads=1, mlp_ratio=hidden // dims,
               # the authors' ViTs have a patch bias; a bare mmseg-style
               # backbone may not
               patch_bias='backbone.patch_embed.projection.bias' in out,
               with_cls_token=False, final_norm=False,
               out_indices=tuple(range(depth)))
    if experts:
        vit.update(type='MoEViT', expert_channels=need(
            'backbone.layers.0.ffn.experts.0.weight').shape[0],
            dataset_names=[f'task{i}' for i in range(experts)])
    parts = dict(backbone=vit)
    if kind != 's4p-encoder' or any(k.startswith('neck.') for k in out):
        # an encoder without any neck key is a bare backbone (no neck)
        parts['neck'] = dict(type='Feature2PyramidLN', embed_dim=dims)
    heads = sorted({k[:k.index('conv_seg.')] for k in out
                    if k.endswith('conv_seg.weight')})
    for prefix in heads:
        seg = need(prefix + 'conv_seg.weight')
        parts[prefix[:-1]] = dict(
            type='FinalResizeUPerHead', in_channels=[dims] * 4,
            in_index=[0, 1, 2, 3], pool_scales=(1, 2, 3, 6),
            channels=seg.shape[1], num_classes=seg.shape[0],
            norm_cfg=dict(type='BN'), align_corners=False,
            final_align_corners=True)
    shapes: Dict[str, torch.Size] = OrderedDict()
    with MetaTensors():
        for prefix, cfg in parts.items():
            module = MODELS.build(cfg)
            shapes.update((f'{prefix}.{k}', v.shape)
                          for k, v in module.state_dict().items())
    return shapes


def check_target(out: StateDict, origin: Dict[str, str],
                 shapes: Dict[str, torch.Size]) -> None:
    """Every target key filled, no other key, every shape equal."""
    missing = [k for k in shapes if k not in out]
    if missing:
        raise MissingKeyError(
            f'target key(s) not filled by the checkpoint: {missing[:10]}'
            f'{" ..." if len(missing) > 10 else ""}')
    extra = [k for k in out if k not in shapes]
    if extra:
        raise UnknownKeyError(
            'source key(s) with no place in the architecture: ' + ', '.join(
                f"'{origin.get(k, k)}' (-> '{k}')" for k in extra[:10]))
    for key, shape in shapes.items():
        if out[key].shape != shape:
            raise ShapeMismatchError(
                f"'{origin.get(key, key)}' has shape "
                f'{tuple(out[key].shape)}; the architecture the other '
                f"weights describe needs {tuple(shape)} for '{key}'")
