"""Convert the OpenEarthMap release to mmseg's folder layout.

The release (``OpenEarthMap_wo_xBD``) has one folder per region with
``images/`` and ``labels/`` (GeoTIFF, same file names) and split files
``train.txt`` / ``val.txt`` / ``test.txt`` listing file names. This writes::

    OUT_DIR/img_dir/{train,val,test}/NAME.png   (RGB)
    OUT_DIR/ann_dir/{train,val}/NAME.png         (uint8, 0 = unknown, 1..8)
    OUT_DIR/ann_dir/test/NAME.png                (test images with a label)

which :class:`s5_mm.datasets.OpenEarthMapDataset` reads. Test images
usually come without labels; those that have one (a release with test
labels, or a custom split) get it converted into ``ann_dir/test`` and one
log line says how many did. Every file is written to ``NAME.tmp`` and
renamed when complete; every label is read back and compared first.

    python tools/dataset_converters/openearthmap.py PATH/OpenEarthMap_wo_xBD \
        -o data/openearthmap [--nproc 8]
"""
import argparse
import os
import os.path as osp
from functools import partial
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.logging import print_log
from mmengine.utils import (mkdir_or_exist, track_parallel_progress,
                            track_progress)
from PIL import Image

from s5_mm.datasets.label_png import write_image_png, write_label_png

NUM_LABELS = 9  # 0 = unknown + 8 classes
SPLITS = ('train', 'val', 'test')


def index_files(root: str, kind: str) -> Dict[str, str]:
    """Map file name -> path for every file in ``root/*/<kind>/``."""
    index: Dict[str, str] = {}
    for region in sorted(os.listdir(root)):
        folder = osp.join(root, region, kind)
        if not osp.isdir(folder):
            continue
        for name in sorted(os.listdir(folder)):
            if name in index:
                raise ValueError(f'{name} is in both {index[name]} and '
                                 f'{osp.join(folder, name)}')
            index[name] = osp.join(folder, name)
    return index


def read_split(root: str, split: str) -> List[str]:
    """File names listed in ``root/<split>.txt``."""
    path = osp.join(root, f'{split}.txt')
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'{path} not found: pass the OpenEarthMap folder that holds the '
            'region folders and train.txt / val.txt / test.txt')
    with open(path, encoding='utf-8') as f:
        return [line.strip() for line in f if line.strip()]


def convert_one(item: Tuple[str, Optional[str], str], out_dir: str,
                split: str) -> None:
    """Write one image (and its label map, if any) as PNG."""
    img_path, label_path, stem = item
    with Image.open(img_path) as img:
        write_image_png(osp.join(out_dir, 'img_dir', split, stem + '.png'),
                        np.asarray(img.convert('RGB')))
    if label_path is None:
        return
    with Image.open(label_path) as lab:
        label = np.array(lab)
    if label.ndim != 2:
        raise ValueError(f'{label_path}: label map has shape {label.shape}, '
                         'expected a single-channel image')
    if label.size and int(label.max()) >= NUM_LABELS:
        raise ValueError(
            f'{label_path}: label value {int(label.max())} outside 0..'
            f'{NUM_LABELS - 1} (0 = unknown, 1..8 = classes)')
    write_label_png(osp.join(out_dir, 'ann_dir', split, stem + '.png'),
                    label.astype(np.uint8))


def convert(root: str,
            out_dir: str,
            splits: Sequence[str] = SPLITS,
            nproc: int = 1) -> Dict[str, int]:
    """Convert the given splits; returns the number of images per split.

    A listed image without its label in train/val is an error; in test it
    is converted without one, and test labels that exist are converted
    into ``ann_dir/test`` (logged).
    """
    images, labels = index_files(root, 'images'), index_files(root, 'labels')
    counts = {}
    for split in splits:
        items = []
        for name in read_split(root, split):
            if name not in images:
                raise FileNotFoundError(
                    f'{split}.txt lists {name}, but no {root}/*/images/{name}')
            label = labels.get(name)
            if label is None and split != 'test':
                raise FileNotFoundError(
                    f'{split}.txt lists {name}, but no {root}/*/labels/{name}')
            items.append((images[name], label, osp.splitext(name)[0]))
        mkdir_or_exist(osp.join(out_dir, 'img_dir', split))
        labeled = sum(item[1] is not None for item in items)
        if labeled:
            mkdir_or_exist(osp.join(out_dir, 'ann_dir', split))
        if split == 'test':
            where = osp.join(out_dir, 'ann_dir', 'test')
            print_log(f'test: {labeled} of {len(items)} images have a label'
                      + (f', written to {where}' if labeled else ''),
                      logger='current')
        func = partial(convert_one, out_dir=out_dir, split=split)
        if nproc > 1:
            track_parallel_progress(func, items, nproc=nproc)
        else:
            track_progress(func, items)
        counts[split] = len(items)
    return counts


def parse_args():
    parser = argparse.ArgumentParser(
        description='Convert OpenEarthMap to mmseg format')
    parser.add_argument('dataset_path', help='the OpenEarthMap_wo_xBD folder')
    parser.add_argument('-o', '--out_dir',
                        default=osp.join('data', 'openearthmap'),
                        help='output folder (default data/openearthmap)')
    parser.add_argument('--splits', nargs='+', default=list(SPLITS),
                        choices=SPLITS, help='splits to convert')
    parser.add_argument('--nproc', type=int, default=1, help='processes')
    return parser.parse_args()


def main():
    args = parse_args()
    counts = convert(args.dataset_path, args.out_dir, args.splits, args.nproc)
    print_log(f'Done: {counts} images written to {args.out_dir}',
              logger='current')


if __name__ == '__main__':
    main()
