"""FullSceneDOTAMetric from the raw scene P1888: split by mmrotate's tool,
predictions made per patch, merged back and scored against the raw labelTxt
(and written as a Task1 submission)."""
import copy
import os.path as osp
import re
import zipfile

import cv2
import numpy as np
import pytest
import torch
from conftest import RAW, SCENE, raw_scene
from mmengine.evaluator import Evaluator
from mmengine.structures import InstanceData
from mmrotate.structures.bbox import RotatedBoxes, qbox2rbox

LABEL_DIR = osp.join(RAW, 'labelTxt')


def _scene_ids(sample) -> list:
    """The scene object (row of the raw file) of every patch label: the
    nearest centre (cv2.minAreaRect of the raw polygon) to the label's
    centre shifted back by the offset in the patch name."""
    polys, _ = raw_scene()
    centres = np.array([cv2.minAreaRect(p.reshape(4, 2).astype(np.float32))[0]
                        for p in polys])
    x, y = map(int, re.fullmatch(r'.+__\d+__(\d+)___(\d+)',
                                 sample.img_id).groups())
    ids = []
    for centre in sample.gt_instances.bboxes.tensor[:, :2].double().numpy():
        dist = np.abs(centres - (centre + [x, y])).max(1)
        assert np.sort(dist)[:2].tolist() < [1e-3, 1.0], sample.img_id
        ids.append(int(np.argmin(dist)))
    return ids


def _scene_rboxes() -> torch.Tensor:
    """The raw polygons as rotated boxes (mmrotate's qbox2rbox, the
    conversion the metric applies to the full-scene labels)."""
    polys, _ = raw_scene()
    return qbox2rbox(torch.tensor(polys, dtype=torch.float32))


def _predict(patches, choose, le90=False):
    """Per patch, the scene's ground truth as predictions: every object the
    split tool put in the patch, its full-scene box shifted to patch
    coordinates; ``choose(scene_id, label)`` gives ``(label, score)`` or
    None. ``le90``: angles regularised as an le90 detector outputs them."""
    scene = _scene_rboxes()
    samples = []
    for sample in patches:
        sample = copy.deepcopy(sample)
        x, y = map(int, re.fullmatch(r'.+__\d+__(\d+)___(\d+)',
                                     sample.img_id).groups())
        picked = [(j, choose(j, int(lab))) for j, lab in zip(
            _scene_ids(sample), sample.gt_instances.labels)]
        picked = [(j, c) for j, c in picked if c is not None]
        boxes = scene[[j for j, _ in picked]].reshape(-1, 5).clone()
        boxes[:, :2] -= torch.tensor([x, y], dtype=torch.float32)
        if le90:
            boxes = RotatedBoxes(boxes).regularize_boxes('le90')
        pred = InstanceData()
        pred.bboxes = boxes
        pred.labels = torch.tensor([c[0] for _, c in picked],
                                   dtype=torch.long)
        pred.scores = torch.tensor([c[1] for _, c in picked])
        sample.pred_instances = pred
        samples.append(sample)
    return samples


def _evaluate(meta, samples, **kwargs):
    evaluator = Evaluator(dict(type='FullSceneDOTAMetric', **kwargs))
    evaluator.dataset_meta = meta
    for i in range(0, len(samples), 5):
        evaluator.process(samples[i:i + 5])
    return evaluator.evaluate(len(samples))


def test_ground_truth_as_prediction_scores_one(p1888_patches):
    meta, patches = p1888_patches
    samples = _predict(patches, lambda j, label: (label, 1.0))
    assert sum(len(s.pred_instances) for s in samples) == 137  # duplicates
    result = _evaluate(meta, samples, full_scene_ann_dir=LABEL_DIR)
    # the patch metric is logged too (below 1 here: the split tool's patch
    # labels and the shifted scene boxes differ by ~3e-5 px, for which
    # mmcv's box_iou_rotated returns 1/3 on some pairs)
    assert list(result) == ['dota/mAP', 'dota/AP50', 'dota/mAP_full_scene',
                            'dota/AP50_full_scene']
    assert result['dota/mAP_full_scene'] == 1.0
    assert result['dota/AP50_full_scene'] == 1.0


def test_unshifted_patches_do_not_score_one(p1888_patches):
    """The full-scene score depends on the offsets: the same predictions
    under names whose offsets are all 0 miss most scene objects."""
    meta, patches = p1888_patches
    samples = _predict(patches, lambda j, label: (label, 1.0))
    for i, sample in enumerate(samples):
        sample.set_metainfo(dict(img_id=f'{SCENE}__256__0___0'))
    result = _evaluate(meta, samples, full_scene_ann_dir=LABEL_DIR)
    assert result['dota/mAP_full_scene'] < 0.5


def test_partial_recall_matches_a_hand_computation(p1888_patches):
    """large-vehicle (50 objects): the first 25 of the raw file found at
    score 0.9, nothing else: precision 1 up to recall 0.5, 11-point AP
    6/11. small-vehicle (14): 7 false detections (large vehicles, IoU 0
    with every small vehicle) at 0.95, then the last 7 small vehicles at
    0.5: precision j / (7 + j) at recall j / 14, at most 1/2 for every
    threshold 0 .. 0.5: AP 6 x 0.5 / 11 = 3/11. mAP = (6/11 + 3/11) / 2."""
    meta, patches = p1888_patches
    _, names = raw_scene()
    lv = [j for j, n in enumerate(names) if n == 'large-vehicle']
    sv = [j for j, n in enumerate(names) if n == 'small-vehicle']
    assert (len(lv), len(sv)) == (50, 14)
    classes = list(meta['classes'])
    lv_label, sv_label = classes.index('large-vehicle'), \
        classes.index('small-vehicle')

    def choose(j, label):
        if j in lv[:25]:
            return lv_label, 0.9
        if j in lv[25:32]:
            return sv_label, 0.95
        if j in sv[7:]:
            return sv_label, 0.5
        return None

    result = _evaluate(meta, _predict(patches, choose),
                       full_scene_ann_dir=LABEL_DIR)
    assert result['dota/mAP_full_scene'] == pytest.approx(9 / 22, abs=1e-7)
    assert result['dota/AP50_full_scene'] == round(9 / 22, 3)


def test_difficult_scene_objects_are_ignored(p1888_patches, tmp_path):
    """DOTA_devkit's rule: an object marked difficult (1) is neither missed
    nor a false positive. Only the first 25 large vehicles are predicted;
    the other 25 marked difficult: large-vehicle is complete (AP 1), the
    14 small vehicles all missed (AP 0): mAP 1/2. Read as mmrotate's
    DOTADataset reads labels (diff_thr=100): (6/11 + 0) / 2."""
    meta, patches = p1888_patches
    polys, names = raw_scene()
    lv = [j for j, n in enumerate(names) if n == 'large-vehicle']
    with open(osp.join(LABEL_DIR, f'{SCENE}.txt')) as f:
        lines = f.read().splitlines()
    for j in lv[25:]:
        lines[j + 2] = lines[j + 2][:-1] + '1'
    (tmp_path / f'{SCENE}.txt').write_text('\n'.join(lines) + '\n')
    classes = list(meta['classes'])
    samples = _predict(patches, lambda j, label: (
        label, 1.0) if j in lv[:25] else None)
    result = _evaluate(meta, samples, full_scene_ann_dir=str(tmp_path))
    assert result['dota/mAP_full_scene'] == pytest.approx(1 / 2)
    # the devkit-free reading (diff_thr=100, as mmrotate's DOTADataset)
    result = _evaluate(meta, samples, full_scene_ann_dir=str(tmp_path),
                       full_scene_diff_thr=100)
    assert result['dota/mAP_full_scene'] == pytest.approx(3 / 11)
    assert classes.index('large-vehicle') == 5


def _parse_task1(path):
    rows = []
    with open(path) as f:
        for line in f:
            fields = line.split()
            assert len(fields) == 10, line
            rows.append((fields[0], float(fields[1]),
                         np.array([float(v) for v in fields[2:]])))
    return rows


def test_submission_parses_back_to_the_same_boxes(p1888_patches, tmp_path):
    """format_only + merge_patches: the 18 Task1 files in the zip hold the
    64 scene objects once each (duplicates merged), with their scores, and
    polygons within 1e-3 of the corners of the le90 box of each raw
    polygon (cv2.minAreaRect here)."""
    meta, patches = p1888_patches
    polys, names = raw_scene()
    scores = {j: 0.5 + j / 1000 + 1e-6 for j in range(len(names))}
    samples = _predict(patches, lambda j, label: (label, scores[j]),
                       le90=True)
    prefix = str(tmp_path / 'dota2_test' / 'Task1')
    result = _evaluate(meta, samples, format_only=True, merge_patches=True,
                       outfile_prefix=prefix)
    assert result == {}
    with zipfile.ZipFile(osp.join(prefix, 'Task1.zip')) as z:
        assert sorted(z.namelist()) == sorted(
            f'Task1_{c}.txt' for c in meta['classes'])
        z.extractall(tmp_path / 'unzipped')
    found = {}
    for name in meta['classes']:
        for scene, score, poly in _parse_task1(
                tmp_path / 'unzipped' / f'Task1_{name}.txt'):
            assert scene == SCENE
            j = min(scores, key=lambda k: abs(scores[k] - score))
            assert score == pytest.approx(np.float32(scores[j]), abs=0)
            assert names[j] == name and j not in found
            found[j] = poly
    assert len(found) == 64
    for j, poly in found.items():
        rect = cv2.minAreaRect(polys[j].reshape(4, 2).astype(np.float32))
        corners = cv2.boxPoints(rect).astype(np.float64)
        err = min(np.abs(np.roll(poly.reshape(4, 2), k, 0)[::step] -
                         corners).max()
                  for k in range(4) for step in (1, -1))
        assert err < 1e-3, (j, err)


def test_errors(p1888_patches, tmp_path):
    meta, patches = p1888_patches
    with pytest.raises(ValueError, match='needs full_scene_ann_dir'):
        Evaluator(dict(type='FullSceneDOTAMetric'))
    samples = _predict(patches, lambda j, label: (label, 1.0))
    with pytest.raises(FileNotFoundError, match="scene 'P1888'"):
        _evaluate(meta, samples, full_scene_ann_dir=str(tmp_path))
    samples[0].set_metainfo(dict(img_id='P1888'))
    with pytest.raises(ValueError, match="'P1888' is not a patch name"):
        _evaluate(meta, samples, full_scene_ann_dir=LABEL_DIR)
    prefix = tmp_path / 'exists'
    prefix.mkdir()
    with pytest.raises(FileExistsError, match='already exists'):
        _evaluate(meta, _predict(patches, lambda j, label: (label, 1.0)),
                  format_only=True, merge_patches=True,
                  outfile_prefix=str(prefix))


def test_multi_dataset_metric_scores_dota_full_scenes(p1888_patches):
    """MultiDatasetDOTAMetric with a FullSceneDOTAMetric for 'dota' only:
    ``dota/mAP_full_scene`` next to ``dota/mAP``."""
    meta, patches = p1888_patches
    samples = _predict(patches, lambda j, label: (label, 1.0))
    for sample in samples:
        sample.set_metainfo(dict(dataset_name='dota'))
    evaluator = Evaluator(dict(
        type='MultiDatasetDOTAMetric', dataset_names=['dior', 'dota'],
        dataset_metrics=dict(dota=dict(type='FullSceneDOTAMetric',
                                       full_scene_ann_dir=LABEL_DIR,
                                       prefix='ignored'))))
    evaluator.dataset_meta = meta
    evaluator.process(samples)
    result = evaluator.evaluate(len(samples))
    assert list(result) == ['dota/mAP', 'dota/AP50', 'dota/mAP_full_scene',
                            'dota/AP50_full_scene']
    assert result['dota/mAP_full_scene'] == 1.0
    with pytest.raises(ValueError, match=r"datasets \['isaid'\]"):
        Evaluator(dict(type='MultiDatasetDOTAMetric', dataset_names=['dota'],
                       dataset_metrics=dict(isaid=dict(type='DOTAMetric'))))
