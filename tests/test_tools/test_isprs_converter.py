"""tools/dataset_converters/isprs.py from the raw ISPRS download format.

Raw tiles are built from the bundled real crops (tests/data/vaihingen,
tests/data/potsdam): cut to odd sizes, written as TIFF with the ISPRS
colour-coded eroded labels (plus clutter and a few off-palette pixels),
packed in zips with the official member names and decoys (Vaihingen's
full-label ``gts_for_participants`` and DSM files, a tile in no split).
Every output file is compared pixel for pixel with the raw tile.
"""
import glob
import math
import os.path as osp
import zipfile

import cv2
import numpy as np
import pytest
from PIL import Image
from script_runner import run_script

TOOL = 'tools/dataset_converters/isprs.py'
# ISPRS colours (RGB) of mmseg's label values 0 (boundary) .. 6 (clutter)
COLOURS = {0: (0, 0, 0), 1: (255, 255, 255), 2: (0, 0, 255),
           3: (0, 255, 255), 4: (0, 255, 0), 5: (255, 255, 0), 6: (255, 0, 0)}


def bundled(dataset, stem):
    img = np.asarray(Image.open(
        f'tests/data/{dataset}/img_dir/{stem}.png').convert('RGB'))
    lab = np.asarray(Image.open(f'tests/data/{dataset}/ann_dir/{stem}.png'))
    # the bundled labels are already mmseg values 0..5; add clutter (6)
    lab = lab.copy()
    lab[100:140, 200:260] = 6
    return img, lab


def tif_bytes(rgb):
    ok, buf = cv2.imencode('.tif', np.ascontiguousarray(rgb[..., ::-1]))
    assert ok
    return buf.tobytes()


def colour(lab, off_palette=()):
    out = np.zeros(lab.shape + (3, ), np.uint8)
    for value, rgb in COLOURS.items():
        out[lab == value] = rgb
    for y, x in off_palette:  # a colour that is no class: expect 0
        out[y, x] = (10, 200, 30)
    return out


def raw_tiles(dataset):
    """{tile: (image, expected label values, colour label)}, odd sizes."""
    stem = 'area1_0_0_512_512' if dataset == 'vaihingen' else \
        '2_10_0_0_512_512'
    img, lab = bundled(dataset, stem)
    names = ('area1', 'area6') if dataset == 'vaihingen' else ('2_10', '2_13')
    tiles = {}
    for k, (name, (h, w)) in enumerate(zip(names, ((512, 400), (300, 512)))):
        i = np.ascontiguousarray(np.rot90(img, k)[:h, :w])
        lb = np.ascontiguousarray(np.rot90(lab, k)[:h, :w])
        off = [(5, 7), (h - 1, w - 1)]
        expected = lb.copy()
        for y, x in off:
            expected[y, x] = 0
        tiles[name] = (i, expected, colour(lb, off))
    return tiles


def write_zips(root, dataset, tiles):
    root.mkdir()
    if dataset == 'vaihingen':
        with zipfile.ZipFile(root / 'ISPRS_semantic_labeling_Vaihingen.zip',
                             'w') as z:
            for name, (img, _, col) in tiles.items():
                z.writestr(f'top/top_mosaic_09cm_{name}.tif', tif_bytes(img))
                # decoys: full labels and DSM with similar names
                z.writestr(f'gts_for_participants/top_mosaic_09cm_{name}.tif',
                           tif_bytes(col))
                z.writestr(f'dsm/dsm_09cm_matching_{name}.tif', tif_bytes(img))
        gt = 'ISPRS_semantic_labeling_Vaihingen_ground_truth_eroded_' \
             'COMPLETE.zip'
        with zipfile.ZipFile(root / gt, 'w') as z:
            for name, (_, _, col) in tiles.items():
                z.writestr(f'top_mosaic_09cm_{name}_noBoundary.tif',
                           tif_bytes(col))
            z.writestr('top_mosaic_09cm_area9_noBoundary.tif',
                       tif_bytes(col))  # in no split: skipped
    else:
        with zipfile.ZipFile(root / '2_Ortho_RGB.zip', 'w') as z:
            for name, (img, _, _) in tiles.items():
                z.writestr(f'2_Ortho_RGB/top_potsdam_{name}_RGB.tif',
                           tif_bytes(img))
        with zipfile.ZipFile(root / '5_Labels_all_noBoundary.zip', 'w') as z:
            for name, (_, _, col) in tiles.items():
                z.writestr(f'top_potsdam_{name}_label_noBoundary.tif',
                           tif_bytes(col))


def mmseg_boxes(h, w, clip):
    """The crop boxes of mmseg's clip_big_image (its formula, stride 256):
    starts x * clip_size, moved back to the edge, duplicates collapsed."""
    stride = 256
    rows = math.ceil((h - clip) / stride)
    rows = rows if rows * stride + clip >= h else rows + 1
    cols = math.ceil((w - clip) / stride)
    cols = cols if cols * stride + clip >= w else cols + 1
    boxes = set()
    for y in range(rows + 1):
        for x in range(cols + 1):
            x0, y0 = x * clip, y * clip
            x0 += w - x0 - clip if x0 + clip > w else 0
            y0 += h - y0 - clip if y0 + clip > h else 0
            boxes.add((x0, y0, min(x0 + clip, w), min(y0 + clip, h)))
    return boxes


def read(path):
    return np.asarray(Image.open(path))


@pytest.mark.parametrize('dataset', ['vaihingen', 'potsdam'])
def test_crops_and_full_tiles_equal_the_raw_data(tmp_path, dataset):
    tiles = raw_tiles(dataset)
    write_zips(tmp_path / 'raw', dataset, tiles)
    out = tmp_path / 'out'
    clip = 256
    for extra in ([], ['--no-crop']):
        proc = run_script([TOOL, dataset, str(tmp_path / 'raw'), '-o',
                           str(out), '--clip-size', str(clip), *extra])
        assert proc.returncode == 0, proc.stderr[-2000:]
        log = proc.stdout + proc.stderr
        assert '2 label pixels of a colour outside the ISPRS palette' in log
        if dataset == 'vaihingen':
            assert "skipped: ['area9']" in log
    splits = dict(zip(tiles, ('train', 'val')))
    for name, (img, lab, _) in tiles.items():
        split = splits[name]
        # full tiles: the raw image and the index of each raw colour
        assert np.array_equal(
            read(out / 'img_dir' / f'{split}_full' / f'{name}.png'), img)
        full_lab = read(out / 'ann_dir' / f'{split}_full' / f'{name}.png')
        assert np.array_equal(full_lab, lab)
        assert 6 in full_lab  # clutter kept as mmseg's value 6
        # crops: mmseg's grid, each the raw window
        h, w = lab.shape
        files = sorted(glob.glob(str(out / 'ann_dir' / split / f'{name}_*')))
        boxes = {tuple(int(v) for v in osp.basename(f)[:-4].split('_')[-4:])
                 for f in files}
        assert boxes == mmseg_boxes(h, w, clip)
        for x0, y0, x1, y1 in boxes:
            stem = f'{name}_{x0}_{y0}_{x1}_{y1}.png'
            assert (y1 - y0, x1 - x0) == (clip, clip)
            assert np.array_equal(read(out / 'img_dir' / split / stem),
                                  img[y0:y1, x0:x1])
            assert np.array_equal(read(out / 'ann_dir' / split / stem),
                                  lab[y0:y1, x0:x1])
    # mmseg's dataset reads the output: labels 0..5 after reduce_zero_label
    # plus 255 (boundary)
    from mmseg.datasets.transforms import LoadAnnotations
    res = LoadAnnotations(reduce_zero_label=True)(dict(
        seg_map_path=files[0], seg_fields=[], reduce_zero_label=True))
    assert set(np.unique(res['gt_seg_map'])) <= set(range(6)) | {255}


def test_missing_label_is_named(tmp_path):
    tiles = raw_tiles('potsdam')
    write_zips(tmp_path / 'raw', 'potsdam', tiles)
    with zipfile.ZipFile(tmp_path / 'raw' / '2_Ortho_RGB.zip', 'a') as z:
        z.writestr('2_Ortho_RGB/top_potsdam_2_14_RGB.tif',
                   tif_bytes(tiles['2_10'][0]))
    proc = run_script([TOOL, 'potsdam', str(tmp_path / 'raw'), '-o',
                       str(tmp_path / 'out')])
    assert proc.returncode != 0
    assert 'val tile 2_14: label not found' in proc.stderr


def test_size_mismatch_is_named(tmp_path):
    tiles = raw_tiles('potsdam')
    img, lab, col = tiles['2_13']
    tiles['2_13'] = (img, lab, col[:-1])
    write_zips(tmp_path / 'raw', 'potsdam', tiles)
    proc = run_script([TOOL, 'potsdam', str(tmp_path / 'raw'), '-o',
                       str(tmp_path / 'out'), '--splits', 'val'])
    assert proc.returncode != 0
    assert 'tile 2_13: image' in proc.stderr and 'check the zips' in \
        proc.stderr
