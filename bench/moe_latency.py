"""Latency of MoEViT vs mmseg's VisionTransformer (CPU, inference).

Two ratios, each the median over interleaved A/B pairs (the order inside a
pair alternates; single timings on a shared machine vary by 20-50%):

* ``moe_vs_dense``: MoEViT with one dataset / mmseg ``VisionTransformer``
  with the same weights, on the same batch (goal <= 1.02);
* ``mixed_vs_single``: MoEViT with 4 datasets on a batch whose samples come
  from 4 different datasets / the same batch all from one dataset
  (goal <= 1.05).

The last line printed is a JSON object with the ratios and raw timings.

    python bench/moe_latency.py            # ViT-B, 512x512, ~4 min on 2 cores
    python bench/moe_latency.py --pairs 9 --img 256
    # shared machine: process CPU time, 1 thread (load moves it far less)
    python bench/moe_latency.py --clock cpu --threads 1 --img 160
"""
import argparse
import json
import os
import os.path as osp
import sys

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

import s5_mm  # noqa: F401

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from ab_timing import add_clock_args, interleaved  # noqa: E402

BASE = 'configs/_base_/models/upernet_vit-b16.py'


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=BASE,
                        help='model config whose backbone is timed')
    parser.add_argument('--img', type=int, default=512, help='input size')
    parser.add_argument('--batch', type=int, default=2,
                        help='batch of the moe_vs_dense pairs')
    parser.add_argument('--mixed-batch', type=int, default=4,
                        help='batch of the mixed_vs_single pairs (one '
                        'sample per dataset)')
    parser.add_argument('--expert-channels', type=int, default=256)
    parser.add_argument('--pairs', type=int, default=7,
                        help='timed A/B pairs per ratio (after 1 warm-up)')
    add_clock_args(parser)
    return parser.parse_args()


def main():
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    init_default_scope('mmseg')
    cfg = Config.fromfile(args.config).model.backbone
    cfg.update(type='VisionTransformer', img_size=(args.img, args.img),
               drop_path_rate=0.0, with_cp=False)
    torch.manual_seed(0)
    dense = MODELS.build(cfg)
    dense.init_weights()
    moe_cfg = dict(cfg, type='MoEViT', expert_channels=args.expert_channels)
    single = MODELS.build(dict(moe_cfg, dataset_names=['a']))
    names = [f'd{i}' for i in range(args.mixed_batch)]
    mixed = MODELS.build(dict(moe_cfg, dataset_names=names))
    for model in (single, mixed):  # same weights (dense fc2 split)
        model.load_state_dict(dense.state_dict(), strict=True)
    for model in (dense, single, mixed):
        model.eval()

    x = torch.randn(args.batch, 3, args.img, args.img)
    xm = torch.randn(args.mixed_batch, 3, args.img, args.img)
    mixed_ids = torch.arange(args.mixed_batch)
    same_ids = torch.zeros(args.mixed_batch, dtype=torch.long)
    with torch.no_grad():
        moe_vs_dense = interleaved(lambda: dense(x), lambda: single(x),
                                   args.pairs, 'moe_vs_dense', args.clock)
        mixed_vs_single = interleaved(lambda: mixed(xm, same_ids),
                                      lambda: mixed(xm, mixed_ids),
                                      args.pairs, 'mixed_vs_single',
                                      args.clock)
    result = dict(
        moe_vs_dense=round(moe_vs_dense['ratio'], 4),
        mixed_vs_single=round(mixed_vs_single['ratio'], 4),
        goals=dict(moe_vs_dense=1.02, mixed_vs_single=1.05),
        setup=dict(config=args.config, img=args.img, batch=args.batch,
                   mixed_batch=args.mixed_batch,
                   expert_channels=args.expert_channels, pairs=args.pairs,
                   threads=torch.get_num_threads(), clock=args.clock,
                   load=[round(v, 2) for v in os.getloadavg()]),
        details=dict(moe_vs_dense=moe_vs_dense,
                     mixed_vs_single=mixed_vs_single))
    print(json.dumps(result))


if __name__ == '__main__':
    main()
