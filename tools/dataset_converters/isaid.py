"""Convert the iSAID release to mmseg's ``iSAIDDataset`` layout.

Same command line, output layout, file names and class ids as mmseg's
``tools/dataset_converters/isaid.py``, but every label patch is written as
a plain single-channel uint8 PNG and read back before the next one (mmseg's
``Image.fromarray(label, mode='P')`` renumbers the class ids under
Pillow 13, the one tools/setup_env.sh installs: ``np.arange(16)`` reads back
as ``[0, 1, 1, ..., 1]``).

Raw layout (the official download; ``--splits`` picks a subset)::

    RAW/train/images/part1.zip ...            members images/P0000.png ...
    RAW/train/Semantic_masks/images.zip       members images/P0000_instance_color_RGB.png
    RAW/val/images/part1.zip
    RAW/val/Semantic_masks/images.zip
    RAW/test/images/part1.zip ...

The same, unzipped, also works: PNGs in ``RAW/<split>/images/`` or
``RAW/<split>/images/images/``, masks in ``RAW/<split>/Semantic_masks/``,
``RAW/<split>/Semantic_masks/images/`` or beside the images (the layout of
the iSAID devkit). Other files (``*_instance_id_RGB.png``, ``Instance_masks``)
are not used. Output::

    OUT/img_dir/{train,val}/P0000_y0_y1_x0_x1.png      RGB patches
    OUT/ann_dir/{train,val}/P0000_y0_y1_x0_x1_instance_color_RGB.png
                                                   uint8, 0..15, 255 = padding
    OUT/img_dir/test/P0000.png                         whole test scenes

Patches: windows of ``patch_height x patch_width`` every ``patch - overlap``
pixels; the last window of a row/column is shifted back to end at the scene
border. A scene smaller than a patch is padded at the bottom/right to the
patch size first (image with 0, label with 255 = ignore), as mmseg's does.
Class ids come from the colours of ``mmseg.datasets.iSAIDDataset``'s
palette; any other colour in a mask is an error naming the file.

    python tools/dataset_converters/isaid.py RAW -o data/iSAID \
        --patch_width 512 --patch_height 512 --overlap_area 128
"""
import argparse
import glob
import io
import logging
import os.path as osp
import zipfile
from dataclasses import dataclass
from functools import partial
from typing import Dict, List, Optional, Sequence, Tuple

import mmcv
import numpy as np
from mmengine.logging import print_log
from mmengine.utils import (mkdir_or_exist, track_parallel_progress,
                            track_progress)
from mmseg.datasets import iSAIDDataset
from PIL import Image

from s5_mm.datasets.label_png import write_image_png, write_label_png
from s5_mm.selection.io import atomic_write_bytes

SPLITS = ('train', 'val', 'test')
MASK_SUFFIX = '_instance_color_RGB'  # iSAIDDataset's seg_map_suffix stem
OTHER_MASK_SUFFIXES = ('_instance_id_RGB', )
IGNORE_INDEX = 255
LAYOUT_HELP = ('expected RAW/<split>/images/*.zip (members images/*.png) and, '
               'for train/val, RAW/<split>/Semantic_masks/*.zip (members '
               'images/*_instance_color_RGB.png), as in the iSAID download, '
               'or the same folders unzipped')


@dataclass(frozen=True)
class Entry:
    """One raw PNG: a file, or a member of a zip (picklable for workers)."""
    path: str
    member: Optional[str] = None

    @property
    def name(self) -> str:
        return osp.basename(self.member or self.path)

    @property
    def stem(self) -> str:
        return osp.splitext(self.name)[0]

    def __str__(self) -> str:
        return f'{self.path}:{self.member}' if self.member else self.path

    def read(self) -> bytes:
        if self.member is None:
            with open(self.path, 'rb') as f:
                return f.read()
        with zipfile.ZipFile(self.path) as zf:
            return zf.read(self.member)


def _is_mask(stem: str) -> bool:
    return stem.endswith(MASK_SUFFIX)


def _is_other_mask(stem: str) -> bool:
    return stem.endswith(OTHER_MASK_SUFFIXES)


def _png_entries(folder: str) -> List[Entry]:
    """PNGs of the zips in ``folder``, else of ``folder`` and
    ``folder/images`` (the unzipped layout)."""
    zips = sorted(glob.glob(osp.join(folder, '*.zip')))
    entries = []
    if zips:
        for path in zips:
            with zipfile.ZipFile(path) as zf:
                entries += [
                    Entry(path, m) for m in sorted(zf.namelist())
                    if m.lower().endswith('.png') and not m.endswith('/')
                ]
        return entries
    for sub in (folder, osp.join(folder, 'images')):
        entries += [
            Entry(p) for p in sorted(glob.glob(osp.join(sub, '*.png')))
        ]
    return entries


def _unique(entries: Sequence[Entry], what: str) -> Dict[str, Entry]:
    found: Dict[str, Entry] = {}
    for entry in entries:
        if entry.stem in found:
            raise ValueError(f'{what} {entry.name} is both {found[entry.stem]}'
                             f' and {entry}: keep one')
        found[entry.stem] = entry
    return found


def find_scenes(raw: str, split: str) -> List[Tuple[Entry, Optional[Entry]]]:
    """(image, mask) of every scene of a split; mask None for test.

    Raises:
        FileNotFoundError: the split folder or its images are missing, or an
            image of train/val has no mask.
        ValueError: a mask has no image, or a name is given twice.
    """
    root = osp.join(raw, split)
    if not osp.isdir(root):
        raise FileNotFoundError(
            f'iSAID split {split!r} not found: no folder {root} ({LAYOUT_HELP};'
            ' convert fewer splits with --splits)')
    in_images = _png_entries(osp.join(root, 'images'))
    images = _unique([e for e in in_images if not _is_mask(e.stem)
                      and not _is_other_mask(e.stem)], 'image')
    if not images:
        raise FileNotFoundError(
            f'iSAID split {split!r}: no images in {root}/images ({LAYOUT_HELP})')
    if split == 'test':
        return [(images[k], None) for k in sorted(images)]
    masks = _unique(
        [e for e in _png_entries(osp.join(root, 'Semantic_masks')) + in_images
         if _is_mask(e.stem)], 'mask')
    for stem, mask in masks.items():
        if stem[:-len(MASK_SUFFIX)] not in images:
            raise ValueError(
                f'mask {mask} has no image {stem[:-len(MASK_SUFFIX)]}.png in '
                f'{root}/images ({LAYOUT_HELP})')
    scenes = []
    for stem in sorted(images):
        mask = masks.get(stem + MASK_SUFFIX)
        if mask is None:
            raise FileNotFoundError(
                f'image {images[stem]} has no mask {stem}{MASK_SUFFIX}.png in '
                f'{root}/Semantic_masks ({LAYOUT_HELP})')
        scenes.append((images[stem], mask))
    return scenes


def colour_to_class(mask: np.ndarray, where: str) -> np.ndarray:
    """Map an RGB colour mask (H, W, 3) to class ids with iSAIDDataset's
    palette (id = position of the colour in the palette).

    Raises:
        ValueError: naming ``where`` and the first colours not in the palette.
    """
    palette = np.asarray(iSAIDDataset.METAINFO['palette'], np.int64)
    keys = palette[:, 0] << 16 | palette[:, 1] << 8 | palette[:, 2]
    order = np.argsort(keys)
    packed = (mask[..., 0].astype(np.int64) << 16
              | mask[..., 1].astype(np.int64) << 8 | mask[..., 2])
    pos = np.clip(np.searchsorted(keys[order], packed), 0, len(keys) - 1)
    known = keys[order][pos] == packed
    if not known.all():
        bad = np.unique(packed[~known])[:5]
        ys, xs = np.nonzero(~known)
        colours = [(int(k >> 16), int(k >> 8 & 255), int(k & 255)) for k in bad]
        raise ValueError(
            f'{where}: {int((~known).sum())} pixels have colours not in the '
            f'iSAID palette, e.g. RGB {colours} (first at row {ys[0]}, column '
            f'{xs[0]}); the palette is iSAIDDataset.METAINFO["palette"]. Is '
            'this a *_instance_color_RGB.png semantic mask?')
    return order[pos].astype(np.uint8)


def windows(size: int, patch: int, overlap: int) -> List[Tuple[int, int]]:
    """Start/end of the patches along one axis (``size >= patch``); the last
    one is shifted back to end at ``size``; no window is repeated."""
    starts = sorted({min(s, size - patch)
                     for s in range(0, size, patch - overlap)})
    return [(s, s + patch) for s in starts]


def _pad(arr: np.ndarray, height: int, width: int, value: int) -> np.ndarray:
    h, w = arr.shape[:2]
    if h >= height and w >= width:
        return arr
    return mmcv.impad(arr, shape=(max(h, height), max(w, width)),
                      pad_val=value)


def _decode_rgb(entry: Entry) -> np.ndarray:
    try:
        with Image.open(io.BytesIO(entry.read())) as im:
            return np.asarray(im.convert('RGB'))
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise OSError(f'cannot read {entry}: {e}') from e


def convert_scene(scene: Tuple[Entry, Optional[Entry]], out_dir: str,
                  split: str, patch_hw: Tuple[int, int],
                  overlap: int) -> int:
    """Cut one scene into patches (test: copy it whole); returns the number
    of patches written."""
    image, mask = scene
    if mask is None:
        atomic_write_bytes(
            osp.join(out_dir, 'img_dir', split, image.stem + '.png'),
            image.read())
        return 1
    img = _decode_rgb(image)
    colour = _decode_rgb(mask)
    if colour.shape != img.shape:
        raise ValueError(f'mask {mask} is {colour.shape[1]}x{colour.shape[0]}'
                         f' but its image {image} is {img.shape[1]}x'
                         f'{img.shape[0]}')
    label = colour_to_class(colour, str(mask))
    ph, pw = patch_hw
    img, label = _pad(img, ph, pw, 0), _pad(label, ph, pw, IGNORE_INDEX)
    h, w = label.shape
    count = 0
    for y0, y1 in windows(h, ph, overlap):
        for x0, x1 in windows(w, pw, overlap):
            name = f'{image.stem}_{y0}_{y1}_{x0}_{x1}'
            write_label_png(
                osp.join(out_dir, 'ann_dir', split,
                         f'{name}{MASK_SUFFIX}.png'), label[y0:y1, x0:x1])
            write_image_png(
                osp.join(out_dir, 'img_dir', split, name + '.png'),
                img[y0:y1, x0:x1])
            count += 1
    return count


def convert(raw: str,
            out_dir: str,
            patch_hw: Tuple[int, int] = (896, 896),
            overlap: int = 384,
            splits: Sequence[str] = SPLITS,
            nproc: int = 1) -> Dict[str, int]:
    """Convert the given splits; returns the patches (test: scenes) written
    per split. Every split is checked before anything is written."""
    if not all(p > overlap >= 0 for p in patch_hw):
        raise ValueError(f'need patch sizes {patch_hw} > overlap_area '
                         f'{overlap} >= 0')
    scenes = {split: find_scenes(raw, split) for split in splits}
    counts = {}
    for split, items in scenes.items():
        mkdir_or_exist(osp.join(out_dir, 'img_dir', split))
        if split != 'test':
            mkdir_or_exist(osp.join(out_dir, 'ann_dir', split))
        print_log(f'iSAID {split}: {len(items)} scenes', logger='current')
        func = partial(convert_scene, out_dir=out_dir, split=split,
                       patch_hw=patch_hw, overlap=overlap)
        if nproc > 1:
            done = track_parallel_progress(func, items, nproc=nproc)
        else:
            done = track_progress(func, items)
        counts[split] = int(sum(done))
    return counts


def parse_args():
    parser = argparse.ArgumentParser(
        description='Convert iSAID to mmseg format (iSAIDDataset)')
    parser.add_argument('dataset_path', help='iSAID folder (train/ val/ test/)')
    parser.add_argument('--tmp_dir', help='unused: zips are read in place '
                        "(kept for mmseg's command line)")
    parser.add_argument('-o', '--out_dir', default=osp.join('data', 'iSAID'),
                        help='output path (default data/iSAID)')
    parser.add_argument('--patch_width', default=896, type=int,
                        help='width of the patches')
    parser.add_argument('--patch_height', default=896, type=int,
                        help='height of the patches')
    parser.add_argument('--overlap_area', default=384, type=int,
                        help='overlap of neighbouring patches, pixels')
    parser.add_argument('--splits', nargs='+', default=list(SPLITS),
                        choices=SPLITS, help='splits to convert (default all)')
    parser.add_argument('--nproc', default=1, type=int,
                        help='scenes converted in parallel')
    return parser.parse_args()


def main():
    args = parse_args()
    if args.tmp_dir:
        print_log('--tmp_dir is not needed: the zips are read in place',
                  logger='current', level=logging.WARNING)
    counts = convert(args.dataset_path, args.out_dir,
                     (args.patch_height, args.patch_width), args.overlap_area,
                     args.splits, args.nproc)
    print_log(f'Done: {counts} written to {args.out_dir}', logger='current')


if __name__ == '__main__':
    main()
