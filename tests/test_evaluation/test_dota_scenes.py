"""Patch names, the merge, full-scene labels and the Task1 writer."""
import os.path as osp

import numpy as np
import pytest
import torch
from conftest import RAW, SCENE, raw_scene
from mmcv.ops import nms_rotated

from s5_mm.evaluation import (load_scene_labels, merge_patch_predictions,
                              parse_patch_name, write_task1_submission)

CLASSES = ('small-vehicle', 'large-vehicle', 'plane')


def test_patch_names_of_both_split_tools():
    # mmrotate: window size; DOTA_devkit: rate 1 (the scene's frame)
    assert parse_patch_name('P1888__1024__824___0') == ('P1888', 824, 0)
    assert parse_patch_name('P0706__1__0___256') == ('P0706', 0, 256)
    assert parse_patch_name('a__b__1.0__3___4') == ('a__b', 3, 4)
    with pytest.raises(ValueError, match='rescaled by 0.5'):
        parse_patch_name('P0706__0.5__0___256')
    with pytest.raises(ValueError, match="'P0706.png' is not a patch name"):
        parse_patch_name('P0706.png')


def test_merge_equals_mmcv_nms_per_scene_and_class():
    """Two scenes, two patches each, random boxes: the merge keeps what
    mmcv's nms_rotated keeps for each scene and class, in scene
    coordinates."""
    rng = np.random.default_rng(0)
    results, scene_boxes = [], {}
    for scene in ('B', 'A'):
        for x, y in ((0, 0), (40, 30)):
            n = 60
            boxes = np.concatenate([
                rng.uniform(0, 100, (n, 2)), rng.uniform(5, 30, (n, 2)),
                rng.uniform(-np.pi / 2, np.pi / 2, (n, 1))], 1)
            labels = rng.integers(0, 2, n)
            scores = rng.uniform(0, 1, n)
            results.append(dict(img_id=f'{scene}__100__{x}___{y}',
                                bboxes=boxes.astype(np.float32),
                                labels=labels, scores=scores.astype(
                                    np.float32)))
            shifted = boxes + [x, y, 0, 0, 0]
            scene_boxes.setdefault(scene, []).append(
                (shifted, scores, labels))
    merged = merge_patch_predictions(results, 3, 0.1)
    assert list(merged) == ['A', 'B']
    for scene, parts in scene_boxes.items():
        b, s, lab = (np.concatenate(p) for p in zip(*parts))
        assert len(merged[scene][2]) == 0  # a class without boxes
        for c in range(2):
            dets = torch.from_numpy(b[lab == c]).float()
            want, _ = nms_rotated(dets, torch.from_numpy(s[lab == c]).float(),
                                  0.1)
            got = merged[scene][c]
            assert got.shape == (len(want), 6)
            np.testing.assert_allclose(got, want.numpy(), atol=1e-4)
        assert sum(len(d) for d in merged[scene]) < len(b)


def test_merge_errors():
    with pytest.raises(ValueError, match="predict_box_type='rbox'"):
        merge_patch_predictions([dict(
            img_id='A__9__0___0', bboxes=np.zeros((1, 8)), scores=np.ones(1),
            labels=np.zeros(1))], 3, 0.1)
    with pytest.raises(ValueError, match='labels outside 0..2'):
        merge_patch_predictions([dict(
            img_id='A__9__0___0', bboxes=np.zeros((1, 5)), scores=np.ones(1),
            labels=np.array([3]))], 3, 0.1)


def test_raw_scene_labels_with_header_lines():
    ann, = load_scene_labels(osp.join(RAW, 'labelTxt'), [SCENE], CLASSES)
    polys, names = raw_scene()
    assert ann['labels'].tolist() == [CLASSES.index(n) for n in names]
    assert ann['bboxes'].shape == (64, 5) and len(ann['bboxes_ignore']) == 0
    # centres of the rotated boxes = centres of the raw quadrilaterals'
    # minimum-area rectangles; areas within the rectangle's
    np.testing.assert_allclose(
        ann['bboxes'][:, :2],
        np.stack([polys[:, 0::2].max(1) + polys[:, 0::2].min(1),
                  polys[:, 1::2].max(1) + polys[:, 1::2].min(1)], 1) / 2,
        atol=3.0)


def test_scene_label_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='does not exist'):
        load_scene_labels(str(tmp_path / 'nope'), [SCENE], CLASSES)
    (tmp_path / 'S.txt').write_text('gsd:0.1\n1 2 3 4 5 6 7 8 ship 0\n')
    with pytest.raises(ValueError, match=r"unknown class 'ship' in .*S.txt, "
                                         'line 2'):
        load_scene_labels(str(tmp_path), ['S'], CLASSES)
    (tmp_path / 'S.txt').write_text('1 2 3 4 5 6 7 8 plane\n')
    with pytest.raises(ValueError, match=r'malformed .*S.txt, line 1'):
        load_scene_labels(str(tmp_path), ['S'], CLASSES)


def test_task1_files(tmp_path):
    merged = {'P1': [np.array([[10, 20, 8, 4, 0, 0.123456789]],
                              np.float32), np.zeros((0, 6), np.float32),
                     np.zeros((0, 6), np.float32)]}
    zip_path = write_task1_submission(merged, CLASSES, str(tmp_path / 'sub'))
    assert zip_path == str(tmp_path / 'sub' / 'sub.zip')
    lines = (tmp_path / 'sub' / 'Task1_small-vehicle.txt').read_text()
    score = float(np.float32(0.123456789))
    assert lines == (f'P1 {score!r} 14.000 22.000 14.000 18.000 6.000 '
                     '18.000 6.000 22.000\n')
    assert (tmp_path / 'sub' / 'Task1_plane.txt').read_text() == ''
