"""Extract the backbone of an S4P (FixMatchSegmentor) checkpoint.

The output loads into the fine-tuning configs as the backbone's pretrained
weights, like mmseg's converted MAE / ViT checkpoints:
``backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=OUT))``.

    python tools/model_converters/extract_backbone.py \
        work_dirs/s4p-.../iter_120000.pth pretrain/s4p_vit-b.pth [--source teacher]

``--source`` picks the student (default) or the EMA teacher; a plain mmseg
segmentor checkpoint (keys ``backbone.*``) works too. ``--keep-prefix``
keeps ``backbone.`` in the keys (for ``load_from`` of a full segmentor).
"""
import argparse
import os
import os.path as osp
from collections import OrderedDict

import torch
from mmengine.runner import CheckpointLoader

import s5_mm  # noqa: F401  (safe loader accepts mmengine checkpoints)


def extract_backbone(state_dict: dict, source: str = 'student',
                     part: str = 'backbone',
                     keep_prefix: bool = False) -> OrderedDict:
    """Keys of ``{source}.{part}.*`` (or ``{part}.*``) without the prefixes.

    Raises:
        KeyError: if the checkpoint has no such key, naming what it has.
    """
    for prefix in (f'{source}.{part}.', f'{part}.'):
        out = OrderedDict(
            ((f'{part}.' if keep_prefix else '') + k[len(prefix):], v)
            for k, v in state_dict.items() if k.startswith(prefix))
        if out:
            return out
    tops = sorted({'.'.join(k.split('.')[:2]) for k in state_dict})
    raise KeyError(
        f'no "{source}.{part}." or "{part}." keys in the checkpoint; its key '
        f'prefixes are {tops[:20]}. Pick --source student|teacher.')


def parse_args():
    parser = argparse.ArgumentParser(
        description='Extract the backbone of an S4P checkpoint')
    parser.add_argument('src', help='S4P (or mmseg) checkpoint')
    parser.add_argument('dst', help='output checkpoint')
    parser.add_argument('--source', choices=['student', 'teacher'],
                        default='student', help='network to take it from')
    parser.add_argument('--part', default='backbone',
                        help='sub-module to extract (e.g. backbone, neck)')
    parser.add_argument('--keep-prefix', action='store_true',
                        help='keep "<part>." in the output keys')
    return parser.parse_args()


def main():
    args = parse_args()
    checkpoint = CheckpointLoader.load_checkpoint(args.src, map_location='cpu')
    state_dict = checkpoint.get('state_dict', checkpoint)
    out = extract_backbone(state_dict, args.source, args.part,
                           args.keep_prefix)
    if osp.dirname(args.dst):
        os.makedirs(osp.dirname(args.dst), exist_ok=True)
    meta = dict(source=osp.abspath(args.src), network=args.source,
                part=args.part, iter=checkpoint.get('meta', {}).get('iter'))
    torch.save(dict(state_dict=out, meta=meta), args.dst)
    print(f'{len(out)} tensors of {args.source}.{args.part} -> {args.dst}')


if __name__ == '__main__':
    main()
