"""Memory of the dataset checker grows with the file list only.

Writes two LoveDA-layout trees of 64x64 samples (--small and 10x as many),
checks each with ``check_config`` (2 workers) and prints the Python-heap
peak (tracemalloc, main process) of each, the growth per added sample and
its ratio to the decoded image + label bytes per sample (goal <= 0.1: the
checker keeps the datasets' file list, as training does, never the
decoded data). The last line is a JSON object.

    python bench/check_dataset_memory.py [--small 200] [--tmp-dir DIR]
"""
import argparse
import json
import os
import os.path as osp
import tempfile
import tracemalloc

import numpy as np
from mmengine.config import Config
from PIL import Image

import s5_mm  # noqa: F401
from s5_mm.datasets.checks.dataset_checker import check_config


def make_tree(root: str, n: int) -> None:
    rng = np.random.default_rng(0)
    for sub in ('img_dir', 'ann_dir'):
        os.makedirs(osp.join(root, sub), exist_ok=True)
    img = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
    lab = rng.integers(0, 8, (64, 64), dtype=np.uint8)
    for i in range(n):
        Image.fromarray(img).save(osp.join(root, 'img_dir', f'{i:06d}.png'))
        Image.fromarray(lab).save(osp.join(root, 'ann_dir', f'{i:06d}.png'))


def peak_bytes(root: str) -> int:
    cfg = Config(dict(default_scope='mmseg', train_dataloader=dict(
        dataset=dict(type='LoveDADataset', data_root=root,
                     data_prefix=dict(img_path='img_dir',
                                      seg_map_path='ann_dir'),
                     pipeline=[]))))
    tracemalloc.start()
    report = check_config(cfg, 'train', workers=2, progress=False)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert report['ok'], report
    return peak


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--small', type=int, default=200)
    parser.add_argument('--tmp-dir', default=None)
    args = parser.parse_args()
    if args.tmp_dir:
        os.makedirs(args.tmp_dir, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.tmp_dir) as tmp:
        sizes = (args.small, 10 * args.small)
        peaks = []
        for n in sizes:
            make_tree(osp.join(tmp, str(n)), n)
            peaks.append(peak_bytes(osp.join(tmp, str(n))))
    per_sample = (peaks[1] - peaks[0]) / (sizes[1] - sizes[0])
    decoded = 64 * 64 * 3 + 64 * 64
    print(json.dumps(dict(
        samples=list(sizes), peak_mb=[round(p / 2**20, 2) for p in peaks],
        growth_bytes_per_sample=round(per_sample),
        decoded_bytes_per_sample=decoded,
        ratio=round(per_sample / decoded, 3), goal=0.1)))


if __name__ == '__main__':
    main()
