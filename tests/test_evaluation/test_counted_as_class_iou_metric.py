"""CountedAsClassIoUMetric: IoUMetric's keys, plus the keys with the pixels
of one raw label value counted as correct pixels of a class (the S5
authors' clutter-as-car binning), against hand-counted areas."""
import cv2
import numpy as np
import pytest
import torch

from s5_mm.evaluation.counted_as_class_iou_metric import \
    CountedAsClassIoUMetric


def sample(tmp_path, raw, pred):
    path = str(tmp_path / 'label.png')
    cv2.imwrite(path, raw.astype(np.uint8))
    gt = np.where((raw == 0) | (raw == 6), 255, raw.astype(np.int64) - 1)
    return dict(seg_map_path=path,
                gt_sem_seg=dict(data=torch.from_numpy(gt)[None]),
                pred_sem_seg=dict(data=torch.from_numpy(pred)[None]))


def test_counts_match_a_hand_computation(tmp_path):
    # raw: 0 boundary, 1..5 classes 0..4, 6 clutter; 2 rows x 6 pixels
    raw = np.array([[1, 1, 2, 5, 6, 6], [6, 0, 3, 4, 5, 2]])
    pred = np.array([[0, 1, 1, 4, 0, 4], [2, 3, 2, 3, 4, 1]])
    metric = CountedAsClassIoUMetric(raw_label=6, as_class=4,
                                     iou_metrics=['mIoU', 'mFscore'])
    metric.dataset_meta = dict(classes=tuple('abcde'))
    metric.process({}, [sample(tmp_path, raw, pred)])
    out = metric.compute_metrics(metric.results)
    # by hand, clutter ignored: class: (intersection, pred area, gt area)
    areas = {0: (1, 1, 2), 1: (2, 3, 2), 2: (1, 1, 1), 3: (1, 1, 1),
             4: (2, 2, 2)}
    iou = [i / (p + g - i) for i, p, g in areas.values()]
    assert out['mIoU'] == pytest.approx(round(np.mean(iou) * 100, 2))
    # clutter (3 pixels) counted as correct car pixels
    i, p, g = areas[4]
    iou[4] = (i + 3) / (p + g - i + 3)
    assert out['mIoU_as_authors'] == pytest.approx(
        round(np.mean(iou) * 100, 2))
    f1 = [2 * i / (p + g) for i, p, g in areas.values()]
    f1[4] = 2 * (i + 3) / (p + g + 6)
    assert out['mFscore_as_authors'] == pytest.approx(
        round(np.mean(f1) * 100, 2))


def test_refuses_resized_labels_and_writing(tmp_path):
    metric = CountedAsClassIoUMetric(raw_label=6, as_class=4)
    metric.dataset_meta = dict(classes=tuple('abcde'))
    s = sample(tmp_path, np.ones((4, 4)), np.zeros((4, 4), np.int64))
    s['gt_sem_seg']['data'] = s['gt_sem_seg']['data'][:, :2]
    s['pred_sem_seg']['data'] = s['pred_sem_seg']['data'][:, :2]
    with pytest.raises(ValueError, match='do not resize labels'):
        metric.process({}, [s])
    with pytest.raises(ValueError, match='use IoUMetric to write'):
        CountedAsClassIoUMetric(raw_label=6, as_class=4, format_only=True)
