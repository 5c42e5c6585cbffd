"""Convert any checkpoint the S5 authors released to s5_mm / mmseg /
mmrotate keys, accounting for every key.

    python tools/model_converters/s5_to_s5mm.py SRC DST [--kind KIND]
        [--check-config CONFIG] [--backbone-only] [--trust-checkpoint]

Kinds (detected from the keys; ``--kind`` must agree with them):

* ``s4p-upernet``: ``{vit}_s4p_upernet.pth`` (S4P ViT + UperNet, DDP
  ``module.`` keys) -> ``backbone.`` / ``neck.`` / ``decode_head.``;
* ``s4p-encoder``: ``{vit}_s4p.pth`` (their ViT with its neck) ->
  ``backbone.`` / ``neck.``;
* ``seg-moe-mdf``: the segmentation fine-tuned MoE-MDF model ->
  ``backbone.`` (``MoEViT``, experts in the authors' task order) /
  ``neck.`` / ``decode_heads.<dataset>.``;
* ``det-moe-mdf``: their OBBDetection MoE-MDF detector, converted by
  ``s5_mm.converters.obbdet``.

Every source key is consumed or dropped with its reason, every target key
filled and its shape checked; a table of both is printed. Anything that
does not fit stops the conversion with the key named, before anything is
written. ``--check-config`` also builds that config's model and loads the
result strictly. ``--backbone-only`` writes the backbone alone (no prefix)
for ``backbone.init_cfg=dict(type='Pretrained', ...)``.
The configs that rebuild the authors' models are in
``configs/s5_released/`` (see its README for the command per file).

Example::

    python tools/model_converters/s5_to_s5mm.py vit_b_s4p_upernet.pth \\
        s5-released_s4p_vit-b.pth --check-config \\
        configs/s5_released/s5-released_s4p_vit-b_upernet_isaid-512x512.py
"""
import argparse
import sys
from collections import OrderedDict
from typing import Optional, Tuple

from ckpt_utils import (StateDict, check_fits, load_state_dict,
                        save_state_dict)

from s5_mm.converters.report import ConversionError, ConversionReport
from s5_mm.converters.s5_seg import (DET_KIND, KINDS, check_kind,
                                     convert_seg, detect_kind)


def convert_det(state: StateDict) -> Tuple[StateDict, ConversionReport]:
    """The detector, by ``s5_mm.converters.obbdet``."""
    from s5_mm.converters.obbdet import convert_obbdet
    target, dropped = convert_obbdet(state)
    report = ConversionReport(
        DET_KIND, consumed=[k for k in state if k not in dropped],
        dropped=OrderedDict(dropped), filled=list(target))
    report.check_complete(state)
    return target, report


def convert_checkpoint(state: StateDict, kind: Optional[str] = None
                       ) -> Tuple[StateDict, ConversionReport]:
    """Any released checkpoint's state dict -> (target state, report)."""
    kind = check_kind(detect_kind(state), kind)
    if kind == DET_KIND:
        return convert_det(state)
    return convert_seg(state, kind)


def convert_s5(state: StateDict) -> StateDict:
    """Released S4P / segmentation state dict -> s5_mm keys."""
    return convert_seg(state)[0]


def backbone_only(state: StateDict, report: ConversionReport) -> StateDict:
    """Keep ``backbone.*`` without the prefix; the source keys of the other
    parts move to the report's dropped keys."""
    out = OrderedDict((k[len('backbone.'):], v) for k, v in state.items()
                      if k.startswith('backbone.'))
    kept = {report.sources[k] for k in state if k.startswith('backbone.')}
    for key in report.consumed:
        if key not in kept:
            report.dropped[key] = 'not part of the backbone (--backbone-only)'
    report.consumed = [k for k in report.consumed if k in kept]
    report.filled = list(out)
    return out


def parse_args():
    parser = argparse.ArgumentParser(
        description="Convert the S5 authors' checkpoints to s5_mm keys")
    parser.add_argument('src', help="the authors' checkpoint")
    parser.add_argument('dst', help='output checkpoint')
    parser.add_argument(
        '--kind', choices=KINDS,
        help='the kind of SRC; the conversion stops if the keys show '
        'another kind. Default: detected from the keys')
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
    raw = load_state_dict(args.src, trust=args.trust_checkpoint,
                          strip_prefix=False)
    try:
        state, report = convert_checkpoint(raw, args.kind)
    except ConversionError as err:
        sys.exit(f'{args.src}: {type(err).__name__}: {err}')
    part = None
    if args.backbone_only:
        state = backbone_only(state, report)
        part = 'backbone'
    elif report.kind == 's4p-encoder':
        part = ('backbone', 'neck')
    print(report.table())
    if args.check_config:
        check_fits(state, args.check_config, part=part,
                   source=f'{args.src} converted')
    save_state_dict(state, args.dst,
                    meta=dict(converted_from=args.src, kind=report.kind))


if __name__ == '__main__':
    main()
