"""classwise_rotated_nms: the boxes mmcv's ``nms_rotated`` keeps class by
class (moved here with the function from test_apis/test_large_scene.py)."""
import numpy as np
import pytest
import torch

from s5_mm.models.utils import classwise_rotated_nms


def _reference_nms(bboxes, scores, labels, iou_thr):
    """mmcv's rotated NMS class by class on the unshifted boxes, highest
    score first (what ``batched_nms`` with ``split_thr=0`` does)."""
    from mmcv.ops import nms_rotated
    kept = torch.zeros(len(scores), dtype=torch.bool)
    for label in labels.unique():
        idx = torch.nonzero(labels == label).view(-1)
        _, k = nms_rotated(bboxes[idx], scores[idx], iou_thr)
        kept[idx[k]] = True
    keep = torch.nonzero(kept).view(-1)
    return keep[scores[keep].argsort(descending=True)]


@pytest.mark.parametrize('seed,iou_thr,levels', [
    (0, 0.1, None), (1, 0.1, 12), (2, 0.5, None), (3, 0.01, None),
    (4, 1.0, None), (5, 0.3, 5)])
def test_classwise_rotated_nms_equals_mmcv(seed, iou_thr, levels):
    """Clusters of overlapping rotated boxes (suppression chains across a
    cluster) spread over a scene of 16k px, 3 classes, distinct scores or
    only ``levels`` score values (ties, as a detector gives on repeated
    tiles): the same boxes as mmcv's ``nms_rotated`` class by class, in the
    same order."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.rand(60, 2, generator=g) * 16000
    n = 1500
    which = torch.randint(0, 60, (n,), generator=g)
    xy = centres[which] + torch.randn(n, 2, generator=g) * 40
    wh = 10 + torch.rand(n, 2, generator=g) * 120
    angle = (torch.rand(n, 1, generator=g) - 0.5) * np.pi
    bboxes = torch.cat([xy, wh, angle], 1)
    scores = torch.randperm(n, generator=g).float() / n + 1e-4
    labels = torch.randint(0, 3, (n,), generator=g)
    if levels:
        scores = (scores * levels).ceil() / levels
    if iou_thr == 1.0:  # exact duplicates: IoU 1 >= 1 suppresses them
        bboxes[1::7] = bboxes[0::7][:len(bboxes[1::7])]
        labels[1::7] = labels[0::7][:len(labels[1::7])]
    keep = classwise_rotated_nms(bboxes, scores, labels, iou_thr)
    ref = _reference_nms(bboxes, scores, labels, iou_thr)
    assert 0 < len(ref) < n
    assert keep.tolist() == ref.tolist()


def test_classwise_rotated_nms_edge_cases():
    empty = classwise_rotated_nms(torch.zeros(0, 5), torch.zeros(0),
                                  torch.zeros(0, dtype=torch.long), 0.1)
    assert empty.shape == (0,) and empty.dtype == torch.long
    # one class's boxes far apart, a second class on top of the first box
    boxes = torch.tensor([[10., 10, 8, 8, 0], [500, 10, 8, 8, 0],
                          [11, 10, 8, 8, 0.1], [10, 10, 8, 8, 0]])
    keep = classwise_rotated_nms(boxes, torch.tensor([0.5, 0.9, 0.8, 0.7]),
                                 torch.tensor([0, 0, 0, 1]), 0.1)
    assert keep.tolist() == [1, 2, 3]  # box 0 lies under box 2 (score 0.8)
    for bad in (0, -0.1, 1.5):
        with pytest.raises(ValueError, match=r'must be in \(0, 1\]'):
            classwise_rotated_nms(boxes, torch.ones(4), torch.zeros(4), bad)
    # horizontal boxes, or scores / labels of another length: named shapes
    with pytest.raises(ValueError, match=r'bboxes \(N, 5\).*\(4, 4\)'):
        classwise_rotated_nms(boxes[:, :4], torch.ones(4), torch.zeros(4),
                              0.1)
    with pytest.raises(ValueError, match=r'\(4, 5\), \(3,\), \(4,\)'):
        classwise_rotated_nms(boxes, torch.ones(3), torch.zeros(4), 0.1)
    # boxes far apart: no pair to compute, every box kept
    far = classwise_rotated_nms(boxes[:2], torch.tensor([0.5, 0.9]),
                                torch.tensor([0, 0]), 0.1)
    assert far.tolist() == [1, 0]
