"""Cost of one FixMatch training step vs one supervised step (CPU).

The same ViT + UperNet (the shipped S4P ViT-B config shrunk to embed 192,
depth 4, 128x128 input, 16 classes) trains one step either

* A: supervised, mmseg ``EncoderDecoder.train_step`` on B labeled images;
* B: FixMatch, ``FixMatchSegmentor.train_step`` on the same B labeled images
  + B unlabeled images (teacher forward on the weak view, student
  forward/backward on the labeled batch and the CutMix-ed strong view).

Pairs are interleaved (A B, B A, ...) after a warm-up; the reported ratio is
the median of the pair-wise ``t(B) / t(A)``. The compute floor is
(3 + 1 + 3) / 3 = 2.33; the goal is <= 2.40. The last line printed is a JSON
object with ``fixmatch_vs_supervised``.

    python bench/fixmatch_step.py                  # ~2 min on 2 cores
    python bench/fixmatch_step.py --pairs 11 --batch 4
    # shared machine: process CPU time, 1 thread (load moves it far less)
    python bench/fixmatch_step.py --clock cpu --threads 1
"""
import argparse
import copy
import json
import os.path as osp
import sys

import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

import s5_mm  # noqa: F401

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from ab_timing import add_clock_args, interleaved  # noqa: E402

CONFIG = ('configs/s4p/'
          's4p-fixmatch_vit-b_upernet_8xb12-120k_isaid-rs4p-512x512.py')


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=CONFIG)
    parser.add_argument('--img', type=int, default=128)
    parser.add_argument('--embed', type=int, default=192)
    parser.add_argument('--depth', type=int, default=4)
    parser.add_argument('--batch', type=int, default=4,
                        help='labeled (= unlabeled) images per step')
    parser.add_argument('--pairs', type=int, default=7,
                        help='timed A/B pairs (after 1 warm-up)')
    add_clock_args(parser)
    return parser.parse_args()


def shrink(cfg: Config, args) -> dict:
    """The shipped S4P model config at bench size, CPU-friendly norms."""
    model = copy.deepcopy(cfg.model)
    seg = model.segmentor
    seg.backbone.update(
        img_size=(args.img, args.img), embed_dims=args.embed,
        num_layers=args.depth, num_heads=args.embed // 64,
        out_indices=tuple(range(args.depth - 4, args.depth)),
        drop_path_rate=0.0, with_cp=False, init_cfg=None)
    seg.neck.update(embed_dim=args.embed, norm_cfg=dict(type='BN'))
    seg.decode_head.update(in_channels=[args.embed] * 4,
                           norm_cfg=dict(type='BN'))
    size = (args.img, args.img)
    seg.data_preprocessor.size = size
    model.data_preprocessor.data_preprocessor.size = size
    return model


def fake_batch(n: int, img: int, num_classes: int, labeled: bool,
               generator: torch.Generator):
    """``n`` uint8 images with label maps (labeled) or all-valid masks."""
    inputs, samples = [], []
    for _ in range(n):
        inputs.append(torch.randint(0, 256, (3, img, img), dtype=torch.uint8,
                                    generator=generator))
        if labeled:
            seg = torch.randint(0, num_classes, (1, img, img),
                                generator=generator)
        else:
            seg = torch.zeros(1, img, img, dtype=torch.long)
        sample = SegDataSample(metainfo=dict(img_shape=(img, img),
                                             ori_shape=(img, img)))
        sample.gt_sem_seg = PixelData(data=seg)
        samples.append(sample)
    return inputs, samples


def main():
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    init_default_scope('mmseg')
    model_cfg = shrink(Config.fromfile(args.config), args)
    torch.manual_seed(0)
    fixmatch = MODELS.build(model_cfg)
    fixmatch.init_weights()
    fixmatch.train()
    student = fixmatch.student
    num_classes = model_cfg.segmentor.decode_head.num_classes
    gen = torch.Generator().manual_seed(0)
    sup = fake_batch(args.batch, args.img, num_classes, True, gen)
    unl = fake_batch(args.batch, args.img, num_classes, False, gen)
    optim_a = OptimWrapper(torch.optim.AdamW(student.parameters(), lr=1e-4))
    optim_b = OptimWrapper(torch.optim.AdamW(fixmatch.parameters(), lr=1e-4))

    def supervised():
        student.train_step(dict(inputs=list(sup[0]),
                                data_samples=copy.deepcopy(sup[1])), optim_a)

    def semi():
        data = dict(
            inputs=dict(sup=list(sup[0]), unsup_teacher=list(unl[0]),
                        unsup_student=list(unl[0])),
            data_samples=dict(sup=copy.deepcopy(sup[1]),
                              unsup_teacher=copy.deepcopy(unl[1]),
                              unsup_student=copy.deepcopy(unl[1])))
        fixmatch.train_step(data, optim_b)

    res = interleaved(supervised, semi, args.pairs, 'fixmatch_vs_supervised',
                      args.clock)
    result = dict(
        fixmatch_vs_supervised=round(res['ratio'], 4),
        floor=round(7 / 3, 4),
        goal=2.40,
        setup=dict(config=args.config, img=args.img, embed=args.embed,
                   depth=args.depth, batch=f'{args.batch}+{args.batch}',
                   pairs=args.pairs, threads=torch.get_num_threads(),
                   clock=args.clock),
        details=res)
    print(json.dumps(result))


if __name__ == '__main__':
    main()
