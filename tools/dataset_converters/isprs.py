"""Convert ISPRS Vaihingen or Potsdam from the downloaded zips to mmseg's
folder layout, as 512 crops (the default) or as full tiles (``--no-crop``).

Put the zips of one dataset in a folder (as for mmseg's converters):

- Vaihingen: ``ISPRS_semantic_labeling_Vaihingen.zip`` (images
  ``top/top_mosaic_09cm_areaN.tif``, IRRG) and
  ``ISPRS_semantic_labeling_Vaihingen_ground_truth_eroded_COMPLETE.zip``
  (``top_mosaic_09cm_areaN_noBoundary.tif``);
- Potsdam: ``2_Ortho_RGB.zip`` (``top_potsdam_I_J_RGB.tif``) and
  ``5_Labels_all_noBoundary.zip`` (``top_potsdam_I_J_label_noBoundary.tif``).

It writes, with mmseg's train / val tiles (those of
``tools/dataset_converters/{vaihingen,potsdam}.py``; other tiles are
skipped and counted in the log)::

    OUT/img_dir/{train,val}/TILE_X0_Y0_X1_Y1.png    crops (default)
    OUT/ann_dir/{train,val}/TILE_X0_Y0_X1_Y1.png
    OUT/img_dir/{train,val}_full/TILE.png           --no-crop
    OUT/ann_dir/{train,val}_full/TILE.png

Labels: the eroded ground truth's colours as mmseg's converters number them
(0 = black, the eroded boundary, ignored by ``reduce_zero_label``;
1 impervious surface, 2 building, 3 low vegetation, 4 tree, 5 car,
6 clutter). A colour must match exactly; any other colour becomes 0 and
its pixel count is logged (mmseg's converters compare a weighted channel
sum, which can give such a pixel a class). Crops: ``clip_size`` squares on
a grid of step ``clip_size``, the last row / column moved back to end at
the tile's edge: the crops mmseg's converters write (their
``--stride_size`` does not change the grid) and the S5 authors' val crops
(144 per Potsdam tile). Images keep their bands and order (Vaihingen IRRG).

    python tools/dataset_converters/isprs.py vaihingen RAW_DIR \
        -o data/vaihingen
    python tools/dataset_converters/isprs.py potsdam RAW_DIR \
        -o data/potsdam --no-crop
"""
import argparse
import glob
import os.path as osp
import re
import zipfile
from typing import Dict, List, Sequence, Tuple

import mmcv
import numpy as np
from mmengine.logging import print_log
from mmengine.utils import mkdir_or_exist

from s5_mm.datasets.label_png import write_image_png, write_label_png

#: RGB colour of each label value (0 = eroded boundary, ignored)
PALETTE = ((0, 0, 0), (255, 255, 255), (0, 0, 255), (0, 255, 255),
           (0, 255, 0), (255, 255, 0), (255, 0, 0))
#: per dataset: member-name patterns (group 1 = tile) and mmseg's splits
DATASETS = {
    'vaihingen': dict(
        image=r'(?:^|/)top/top_mosaic_09cm_(area\d+)\.tif$',
        label=r'(?:^|/)top_mosaic_09cm_(area\d+)_noBoundary\.tif$',
        splits=dict(
            train=('area1', 'area11', 'area13', 'area15', 'area17', 'area21',
                   'area23', 'area26', 'area28', 'area3', 'area30', 'area32',
                   'area34', 'area37', 'area5', 'area7'),
            val=('area6', 'area24', 'area35', 'area16', 'area14', 'area22',
                 'area10', 'area4', 'area2', 'area20', 'area8', 'area31',
                 'area33', 'area27', 'area38', 'area12', 'area29'))),
    'potsdam': dict(
        image=r'(?:^|/)top_potsdam_(\d+_\d+)_RGB\.tif$',
        label=r'(?:^|/)top_potsdam_(\d+_\d+)_label_noBoundary\.tif$',
        splits=dict(
            train=('2_10', '2_11', '2_12', '3_10', '3_11', '3_12', '4_10',
                   '4_11', '4_12', '5_10', '5_11', '5_12', '6_10', '6_11',
                   '6_12', '6_7', '6_8', '6_9', '7_10', '7_11', '7_12', '7_7',
                   '7_8', '7_9'),
            val=('5_15', '6_15', '6_13', '3_13', '4_14', '6_14', '5_14',
                 '2_13', '4_15', '2_14', '5_13', '4_13', '3_14', '7_13'))),
}
Member = Tuple[str, str]  # (zip path, member name)


def index_zips(raw_dir: str, dataset: str) -> Tuple[Dict[str, Member], ...]:
    """``({tile: image member}, {tile: label member})`` over the zips."""
    spec = DATASETS[dataset]
    zips = sorted(glob.glob(osp.join(raw_dir, '*.zip')))
    if not zips:
        raise FileNotFoundError(f'no .zip in {raw_dir}: put the ISPRS '
                                f'{dataset} zips there (module docstring)')
    found: Tuple[Dict[str, Member], Dict[str, Member]] = ({}, {})
    for path in zips:
        with zipfile.ZipFile(path) as zf:
            for name in zf.namelist():
                for index, kind in zip(found, ('image', 'label')):
                    match = re.search(spec[kind], name)
                    if not match:
                        continue
                    tile = match.group(1)
                    if tile in index:
                        raise ValueError(
                            f'{dataset} {kind} of tile {tile} found twice: '
                            f'{index[tile]} and {(path, name)}; keep one zip')
                    index[tile] = (path, name)
    return found


def read_rgb(member: Member) -> np.ndarray:
    """A zip member (TIFF) as an (H, W, 3) uint8 array in file band order."""
    with zipfile.ZipFile(member[0]) as zf:
        data = zf.read(member[1])
    img = mmcv.imfrombytes(data, flag='color', channel_order='rgb')
    if img is None:
        raise ValueError(f'{member[1]} in {member[0]}: not a readable image')
    return img


def colour_to_index(label: np.ndarray) -> Tuple[np.ndarray, int]:
    """Label values of an RGB colour label, and the count of pixels whose
    colour is not in :data:`PALETTE` (set to 0)."""
    out = np.zeros(label.shape[:2], np.uint8)
    matched = np.zeros(label.shape[:2], bool)
    for value, colour in enumerate(PALETTE):
        hit = np.all(label == np.array(colour, np.uint8), axis=-1)
        out[hit] = value
        matched |= hit
    return out, int((~matched).sum())


def crop_starts(size: int, clip: int) -> List[int]:
    """Starts of the crops along one side (module docstring)."""
    if size <= clip:
        return [0]
    return [min(k * clip, size - clip) for k in range(-(-size // clip))]


def convert_tile(tile: str, image: Member, label: Member, out_dir: str,
                 split: str, clip_size: int, no_crop: bool) -> int:
    """Write one tile (or its crops); returns the number of images."""
    img = read_rgb(image)
    lab, unknown = colour_to_index(read_rgb(label))
    if img.shape[:2] != lab.shape:
        raise ValueError(
            f'tile {tile}: image {image[1]} is {img.shape[:2]} but label '
            f'{label[1]} is {lab.shape}; check the zips')
    if unknown:
        print_log(f'tile {tile}: {unknown} label pixels of a colour outside '
                  'the ISPRS palette set to 0 (ignored)', logger='current')
    folder = split + '_full' if no_crop else split
    if no_crop:
        boxes = [(0, 0, lab.shape[1], lab.shape[0], tile)]
    else:
        boxes = []
        for y in crop_starts(lab.shape[0], clip_size):
            for x in crop_starts(lab.shape[1], clip_size):
                x1 = min(x + clip_size, lab.shape[1])
                y1 = min(y + clip_size, lab.shape[0])
                boxes.append((x, y, x1, y1, f'{tile}_{x}_{y}_{x1}_{y1}'))
    for x0, y0, x1, y1, stem in boxes:
        write_image_png(osp.join(out_dir, 'img_dir', folder, stem + '.png'),
                        np.ascontiguousarray(img[y0:y1, x0:x1]))
        write_label_png(osp.join(out_dir, 'ann_dir', folder, stem + '.png'),
                        np.ascontiguousarray(lab[y0:y1, x0:x1]))
    return len(boxes)


def convert(dataset: str,
            raw_dir: str,
            out_dir: str,
            splits: Sequence[str] = ('train', 'val'),
            clip_size: int = 512,
            no_crop: bool = False) -> Dict[str, int]:
    """Convert ``splits``; returns the number of files written per split.

    Raises:
        FileNotFoundError: a split tile has no image or no label.
    """
    images, labels = index_zips(raw_dir, dataset)
    tables = DATASETS[dataset]['splits']
    counts = {}
    for split in splits:
        tiles = [t for t in tables[split] if t in images or t in labels]
        for tile in tiles:
            if tile not in images or tile not in labels:
                kind = 'image' if tile not in images else 'label'
                raise FileNotFoundError(
                    f'{dataset} {split} tile {tile}: {kind} not found in the '
                    f'zips of {raw_dir} (module docstring lists the names)')
        folder = split + '_full' if no_crop else split
        for sub in ('img_dir', 'ann_dir'):
            mkdir_or_exist(osp.join(out_dir, sub, folder))
        counts[split] = sum(
            convert_tile(t, images[t], labels[t], out_dir, split, clip_size,
                         no_crop) for t in tiles)
        print_log(f'{dataset} {split}: {len(tiles)} of {len(tables[split])} '
                  f'tiles found, {counts[split]} images written to '
                  f'{osp.join(out_dir, "img_dir", folder)}', logger='current')
    listed = {t for names in tables.values() for t in names}
    skipped = sorted((set(images) | set(labels)) - listed)
    if skipped:
        print_log(f'{dataset}: tiles in no split skipped: {skipped}',
                  logger='current')
    return counts


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert ISPRS Vaihingen / Potsdam zips to mmseg layout')
    parser.add_argument('dataset', choices=sorted(DATASETS))
    parser.add_argument('raw_dir', help='folder with the downloaded zips')
    parser.add_argument('-o', '--out-dir', required=True)
    parser.add_argument('--splits', nargs='+', default=['train', 'val'],
                        choices=['train', 'val'])
    parser.add_argument('--clip-size', type=int, default=512)
    parser.add_argument('--no-crop', action='store_true',
                        help='write full tiles to img_dir/{split}_full')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    convert(args.dataset, args.raw_dir, args.out_dir, args.splits,
            args.clip_size, args.no_crop)


if __name__ == '__main__':
    main()
