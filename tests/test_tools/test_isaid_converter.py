"""tools/dataset_converters/isaid.py from the raw iSAID download.

The real raw scene P0005 (tests/data/isaid_raw, 884x977, classes 0 / 8 / 9)
is laid out as the official zips (and unzipped), converted, and every
patch is compared pixel for pixel with the window of the raw image and of
the class map computed here from the raw colour mask.
"""
import importlib.util
import io
import os
import os.path as osp
import re
import shutil
import zipfile

import numpy as np
import pytest
from mmseg.datasets import iSAIDDataset
from PIL import Image
from script_runner import run_script

RAW = 'tests/data/isaid_raw/train/images'
TOOL = 'tools/dataset_converters/isaid.py'
PATCH_RE = re.compile(r'^(P\d+)_(\d+)_(\d+)_(\d+)_(\d+)(_instance_color_RGB)?'
                      r'\.png$')


def load_tool():
    spec = importlib.util.spec_from_file_location('isaid_converter', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def raw_image():
    return np.asarray(Image.open(osp.join(RAW, 'P0005.png')).convert('RGB'))


def reference_classes():
    """Class ids of the raw colour mask, one palette colour at a time."""
    colour = np.asarray(
        Image.open(osp.join(RAW, 'P0005_instance_color_RGB.png')).convert(
            'RGB'))
    ids = np.full(colour.shape[:2], -1, np.int64)
    for k, rgb in enumerate(iSAIDDataset.METAINFO['palette']):
        hit = (colour == np.array(rgb, np.uint8)).all(axis=2)
        assert not (hit & (ids >= 0)).any()
        ids[hit] = k
    assert (ids >= 0).all(), 'the raw mask has colours outside the palette'
    return ids


def _zip(path, members):
    os.makedirs(osp.dirname(path), exist_ok=True)
    with zipfile.ZipFile(path, 'w') as zf:
        for name, src in members.items():
            zf.write(src, name)


def official_layout(root, splits=('train', 'val', 'test')):
    """The iSAID download: images/part1.zip and Semantic_masks/images.zip
    (members images/*.png) per split, plus the instance masks we ignore."""
    img = osp.join(RAW, 'P0005.png')
    for split in splits:
        _zip(osp.join(root, split, 'images', 'part1.zip'),
             {'images/P0005.png': img})
        if split == 'test':
            continue
        _zip(osp.join(root, split, 'Semantic_masks', 'images.zip'),
             {'images/P0005_instance_color_RGB.png':
              osp.join(RAW, 'P0005_instance_color_RGB.png')})
        _zip(osp.join(root, split, 'Instance_masks', 'images.zip'),
             {'images/P0005_instance_id_RGB.png':
              osp.join(RAW, 'P0005_instance_id_RGB.png')})
    return str(root)


def expected_windows(size, patch, overlap):
    """mmseg's sliding rule: start every patch-overlap pixels, shift the
    last one back to end at the border (duplicates removed)."""
    out = set()
    for s in range(0, size, patch - overlap):
        end = min(s + patch, size)
        out.add((end - patch, end))
    return out


def check_patches(out, split, patch_h, patch_w, overlap):
    """Compare every written patch with the raw windows; returns the class
    ids found in the labels and the windows."""
    ref, img = reference_classes(), raw_image()
    h, w = ref.shape
    ph, pw = max(h, patch_h), max(w, patch_w)
    ref_pad = np.full((ph, pw), 255, np.int64)
    ref_pad[:h, :w] = ref
    img_pad = np.zeros((ph, pw, 3), np.uint8)
    img_pad[:h, :w] = img
    labels = sorted(os.listdir(osp.join(out, 'ann_dir', split)))
    images = sorted(os.listdir(osp.join(out, 'img_dir', split)))
    windows, classes = set(), set()
    for name in labels:
        m = PATCH_RE.match(name)
        assert m and m.group(6), name
        y0, y1, x0, x1 = map(int, m.group(2, 3, 4, 5))
        assert (y1 - y0, x1 - x0) == (patch_h, patch_w), name
        label = np.asarray(Image.open(osp.join(out, 'ann_dir', split, name)))
        assert label.ndim == 2 and label.dtype == np.uint8, name
        np.testing.assert_array_equal(label, ref_pad[y0:y1, x0:x1],
                                      err_msg=name)
        patch = np.asarray(Image.open(osp.join(
            out, 'img_dir', split, name.replace('_instance_color_RGB', ''))))
        np.testing.assert_array_equal(patch, img_pad[y0:y1, x0:x1],
                                      err_msg=name)
        windows.add((y0, y1, x0, x1))
        classes |= set(np.unique(label).tolist())
    assert len(images) == len(labels)
    assert windows == {(y0, y1, x0, x1)
                       for y0, y1 in expected_windows(ph, patch_h, overlap)
                       for x0, x1 in expected_windows(pw, patch_w, overlap)}
    return classes, windows


def convert_cli(tool, raw, out):
    """Run a converter's command line with the S4P patch settings."""
    proc = run_script(
        [tool, raw, '-o', str(out), '--patch_width', '512',
         '--patch_height', '512', '--overlap_area', '128'], timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_official_zips_every_patch_equals_the_raw_window(tmp_path):
    raw = official_layout(tmp_path / 'raw')
    out = tmp_path / 'out'
    convert_cli(TOOL, raw, out)
    for split in ('train', 'val'):
        classes, windows = check_patches(str(out), split, 512, 512, 128)
        # 977 rows: 0-512, 384-896, 465-977; 884 columns: 0-512, 372-884
        assert len(windows) == 6
        assert classes == {0, 8, 9}  # background, large / small vehicle
    # test scenes are copied whole, as mmseg's converter does
    assert os.listdir(out / 'img_dir' / 'test') == ['P0005.png']
    np.testing.assert_array_equal(
        np.asarray(Image.open(out / 'img_dir' / 'test' / 'P0005.png')),
        raw_image())
    assert not [p for p in out.rglob('*.tmp')]

    # mmseg's iSAIDDataset and LoadAnnotations read the output unchanged
    from mmengine.registry import init_default_scope
    init_default_scope('mmseg')
    dataset = iSAIDDataset(
        data_root=str(out),
        data_prefix=dict(img_path='img_dir/train',
                         seg_map_path='ann_dir/train'),
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='LoadAnnotations')])
    assert len(dataset) == 6
    sample = dataset[0]
    y0, y1, x0, x1 = map(int, PATCH_RE.match(
        osp.basename(sample['img_path'])).group(2, 3, 4, 5))
    np.testing.assert_array_equal(sample['gt_seg_map'],
                                  reference_classes()[y0:y1, x0:x1])


@pytest.mark.parametrize('patch_h, patch_w, overlap', [(400, 600, 100),
                                                       (1024, 1024, 0)])
def test_non_square_and_smaller_than_a_patch(tmp_path, patch_h, patch_w,
                                             overlap):
    """patch_height is the height (mmseg swaps them); a scene smaller than
    a patch is padded bottom/right: image with 0, label with 255."""
    raw = official_layout(tmp_path / 'raw', splits=('train', ))
    out = str(tmp_path / 'out')
    counts = load_tool().convert(raw, out, (patch_h, patch_w), overlap,
                                 splits=['train'])
    classes, windows = check_patches(out, 'train', patch_h, patch_w, overlap)
    assert counts == {'train': len(windows)}
    if patch_h == 1024:
        assert windows == {(0, 1024, 0, 1024)}
        assert classes == {0, 8, 9, 255}


@pytest.mark.parametrize('layout', ['devkit', 'unzipped'])
def test_unzipped_layouts(tmp_path, layout):
    """Masks beside the images (tests/data/isaid_raw, the devkit layout) or
    the zips extracted in place (images/images, Semantic_masks/images)."""
    raw = tmp_path / 'raw'
    if layout == 'devkit':
        shutil.copytree('tests/data/isaid_raw', raw)
    else:
        for sub, name in (('images', 'P0005.png'),
                          ('Semantic_masks', 'P0005_instance_color_RGB.png')):
            os.makedirs(raw / 'train' / sub / 'images')
            shutil.copy(osp.join(RAW, name), raw / 'train' / sub / 'images')
    out = str(tmp_path / 'out')
    load_tool().convert(str(raw), out, (512, 512), 128, splits=['train'])
    classes, windows = check_patches(out, 'train', 512, 512, 128)
    assert len(windows) == 6 and classes == {0, 8, 9}


def test_errors_name_the_split_the_file_and_the_colour(tmp_path):
    tool = load_tool()
    raw = official_layout(tmp_path / 'raw', splits=('train', ))
    with pytest.raises(FileNotFoundError, match=r"split 'val' not found.*"
                       r'Semantic_masks/\*\.zip'):
        tool.convert(raw, str(tmp_path / 'o1'))
    # a mask without its image
    _zip(osp.join(raw, 'train', 'Semantic_masks', 'more.zip'),
         {'images/P0006_instance_color_RGB.png':
          osp.join(RAW, 'P0005_instance_color_RGB.png')})
    with pytest.raises(ValueError, match=r'more\.zip:images/P0006_instance_'
                       r'color_RGB\.png has no image P0006\.png'):
        tool.convert(raw, str(tmp_path / 'o2'), splits=['train'])
    os.remove(osp.join(raw, 'train', 'Semantic_masks', 'more.zip'))
    # a colour outside the palette
    mask = np.asarray(Image.open(osp.join(
        RAW, 'P0005_instance_color_RGB.png')).convert('RGB')).copy()
    mask[10, 20] = (1, 2, 3)
    bad = tmp_path / 'P0005_instance_color_RGB.png'
    Image.fromarray(mask).save(bad)
    _zip(osp.join(raw, 'train', 'Semantic_masks', 'images.zip'),
         {'images/P0005_instance_color_RGB.png': str(bad)})
    with pytest.raises(ValueError, match=r'images\.zip:images/P0005_instance_'
                       r'color_RGB\.png: 1 pixels .*RGB \[\(1, 2, 3\)\] '
                       r'\(first at row 10, column 20\)'):
        tool.convert(raw, str(tmp_path / 'o3'), splits=['train'])


def test_label_written_is_read_back(tmp_path):
    """write_label_png refuses what it could not store exactly."""
    from s5_mm.datasets.label_png import write_label_png
    label = np.arange(256, dtype=np.uint8).reshape(16, 16)
    write_label_png(str(tmp_path / 'a.png'), label)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / 'a.png')),
                                  label)
    with pytest.raises(ValueError, match='2-D uint8'):
        write_label_png(str(tmp_path / 'b.png'), label.astype(np.int32))
    assert os.listdir(tmp_path) == ['a.png']


def _pillow_p_mode_renumbers():
    buf = io.BytesIO()
    Image.fromarray(np.arange(16, dtype=np.uint8)[None], mode='P').save(
        buf, format='PNG')
    return np.asarray(Image.open(buf)).ravel().tolist() != list(range(16))


def test_mmseg_converter_is_caught_by_the_same_check(tmp_path):
    """mmseg's own converter on the same raw zips: under a Pillow whose
    mode='P' save renumbers values (13.0 here) its labels fail the
    pixel-for-pixel comparison that ours passes."""
    import mmseg
    tool = osp.join(osp.dirname(mmseg.__file__), '.mim', 'tools',
                    'dataset_converters', 'isaid.py')
    raw = official_layout(tmp_path / 'raw')
    out = tmp_path / 'mmseg_out'
    convert_cli(tool, raw, out)
    values = set()
    for name in os.listdir(out / 'ann_dir' / 'train'):
        values |= set(np.unique(np.asarray(
            Image.open(out / 'ann_dir' / 'train' / name))).tolist())
    if _pillow_p_mode_renumbers():
        assert values == {0, 1}  # vehicles became "ship"
        # every patch is the raw window with both vehicle classes (8 large,
        # 9 small) written as 1, and nothing else wrong
        ref = reference_classes()
        names = sorted(os.listdir(out / 'ann_dir' / 'train'))
        vehicles = []
        for name in names:
            y0, y1, x0, x1 = map(int, PATCH_RE.match(name).group(2, 3, 4, 5))
            window = ref[y0:y1, x0:x1]
            label = np.asarray(Image.open(out / 'ann_dir' / 'train' / name))
            np.testing.assert_array_equal(
                label, np.where(np.isin(window, (8, 9)), 1, window),
                err_msg=name)
            vehicles.append(int(np.isin(window, (8, 9)).sum()))
        assert len(names) == 6 and min(vehicles) > 0
        # and the check that passes ours fails on the first patch, at its
        # vehicle pixels exactly
        with pytest.raises(AssertionError, match=re.escape(
                f'{names[0]}\nMismatched elements: {vehicles[0]} / '
                f'{512 * 512} ')):
            check_patches(str(out), 'train', 512, 512, 128)
    else:
        check_patches(str(out), 'train', 512, 512, 128)
