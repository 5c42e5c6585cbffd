"""Extract the backbone of an S4P (FixMatchSegmentor) checkpoint.

The output holds the backbone's weights with keys ``backbone.*``, which the
fine-tuning configs load with
``backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=OUT,
prefix='backbone.'))`` (``MoEViT`` honours ``prefix``):

    python tools/model_converters/extract_backbone.py \
        work_dirs/s4p-.../iter_120000.pth pretrain/s4p_vit-b_rs4p-1m.pth

mmseg's own ``VisionTransformer.init_weights`` ignores ``prefix``: for a
plain ViT add ``--strip-prefix`` (keys without ``backbone.``, like mmseg's
converted MAE checkpoints). ``--source teacher`` takes the EMA teacher
instead of the student; a plain mmseg segmentor checkpoint works too.
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
                     keep_prefix: bool = True) -> OrderedDict:
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
    parser.add_argument('--strip-prefix', action='store_true',
                        help='drop "<part>." from the output keys (for '
                        "mmseg's VisionTransformer, which ignores "
                        'init_cfg.prefix)')
    return parser.parse_args()


def main():
    args = parse_args()
    checkpoint = CheckpointLoader.load_checkpoint(args.src, map_location='cpu')
    state_dict = checkpoint.get('state_dict', checkpoint)
    out = extract_backbone(state_dict, args.source, args.part,
                           not args.strip_prefix)
    if osp.dirname(args.dst):
        os.makedirs(osp.dirname(args.dst), exist_ok=True)
    meta = dict(source=osp.abspath(args.src), network=args.source,
                part=args.part, iter=checkpoint.get('meta', {}).get('iter'))
    torch.save(dict(state_dict=out, meta=meta), args.dst)
    print(f'{len(out)} tensors of {args.source}.{args.part} -> {args.dst}')


if __name__ == '__main__':
    main()
