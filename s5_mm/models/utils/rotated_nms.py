"""Class-wise rotated NMS on a sparse graph of overlapping boxes.

:func:`classwise_rotated_nms` keeps exactly the boxes mmcv's CPU
``nms_rotated`` keeps class by class, but computes IoUs only for pairs whose
axis-aligned hulls meet, so merging the boxes of a whole scene grows with the
number of overlapping boxes, not with the square of the box count. Used by
the large-scene APIs and the full-scene DOTA scoring.
"""
from typing import Iterator, Tuple

import torch
from mmcv.ops import box_iou_rotated
from torch import Tensor

_IOU_BOUND_MARGIN = 0.01


def _hull_pairs(hulls: Tensor, labels: Tensor,
                chunk: int = 1 << 20) -> Iterator[Tuple[Tensor, Tensor]]:
    """Pairs ``(i, j)`` of same-label boxes whose hulls ``(x1, y1, x2, y2)``
    (float64) meet, about ``chunk`` candidates at a time, by sort and sweep
    along x: classes are laid side by side on the x axis, so a sweep never
    crosses a class."""
    span = float(hulls[:, 2].max() - hulls[:, 0].min()) + 1.
    shift = labels.to(hulls) * span - hulls[:, 0].min()
    x1, x2 = hulls[:, 0] + shift, hulls[:, 2] + shift
    order = torch.argsort(x1)
    x1, x2 = x1[order], x2[order]
    # box k (in x order) meets in x the boxes k+1 .. ends[k]-1
    counts = torch.searchsorted(x1, x2, right=True) - 1 - torch.arange(
        len(x1), device=x1.device)
    counts = counts.clamp_(min=0)
    start, total = 0, torch.cumsum(counts, 0)
    while start < len(counts):
        base = int(total[start - 1]) if start else 0
        stop = int(torch.searchsorted(total, base + chunk, right=True))
        stop = max(stop, start + 1)
        c = counts[start:stop]
        first = torch.repeat_interleave(
            torch.arange(start, stop, device=c.device), c)
        step = torch.arange(int(c.sum()), device=c.device) - \
            torch.repeat_interleave(torch.cumsum(c, 0) - c, c)
        second = first + 1 + step
        a, b = order[first], order[second]
        meet = (hulls[b, 1] <= hulls[a, 3]) & (hulls[a, 1] <= hulls[b, 3])
        yield a[meet], b[meet]
        start = stop


def classwise_rotated_nms(bboxes: Tensor, scores: Tensor, labels: Tensor,
                          iou_threshold: float) -> Tensor:
    """Greedy rotated NMS class by class: the boxes mmcv's CPU
    ``nms_rotated`` keeps for each label (a box is suppressed by a kept box
    of the same label and a higher score with IoU >= ``iou_threshold``),
    in descending score order, as mmcv's ``batched_nms`` (with
    ``split_thr=0``) returns them. Equal scores are ranked by the same sort
    as mmcv's kernel, so on the CPU ties are broken the same way. Runs on
    the boxes' device (all steps are tensor operations).

    ``nms_rotated`` computes the IoU of every pair it has not suppressed
    yet: quadratic in the boxes of a class, which for a scene of hundreds of
    windows is most of the run. Here the IoU (mmcv's ``box_iou_rotated``,
    the same function, higher-scored box first) is computed only for pairs
    whose axis-aligned hulls meet (the others have IoU 0, below any
    threshold > 0) and whose IoU bound from the hulls' intersection is at
    least ``iou_threshold - 0.01``; the greedy pass is resolved on that
    sparse graph:
    a box is kept when every box that would suppress it is suppressed,
    and suppressed as soon as one of them is kept.

    Args:
        bboxes (Tensor): (N, 5) cx, cy, w, h, angle (radians).
        scores (Tensor): (N,).
        labels (Tensor): (N,) class indices.
        iou_threshold (float): in (0, 1].

    Returns:
        Tensor: indices of the kept boxes, highest score first.
    """
    if not 0 < iou_threshold <= 1:
        raise ValueError(f'the rotated-NMS IoU threshold {iou_threshold} '
                         'must be in (0, 1]')
    n = len(bboxes)
    if bboxes.dim() != 2 or bboxes.shape[1] != 5 or \
            scores.shape != (n, ) or labels.shape != (n, ):
        raise ValueError(
            'classwise_rotated_nms takes bboxes (N, 5) cx, cy, w, h, angle, '
            f'scores (N,) and labels (N,); got {tuple(bboxes.shape)}, '
            f'{tuple(scores.shape)}, {tuple(labels.shape)}')
    device = bboxes.device
    if n == 0:
        return torch.zeros(0, dtype=torch.long, device=device)
    boxes = bboxes
    # each class ranked by the sort nms_rotated's CPU kernel does (equal
    # scores are then taken in the same order)
    rank = torch.empty(n, dtype=torch.long, device=device)
    for label in labels.unique():
        idx = torch.nonzero(labels == label).view(-1)
        rank[idx[scores[idx].sort(0, descending=True)[1]]] = torch.arange(
            len(idx), device=device)
    cx, cy, bw, bh = boxes[:, :4].double().unbind(1)
    cos, sin = boxes[:, 4].double().cos().abs(), \
        boxes[:, 4].double().sin().abs()
    half_w, half_h = (bw * cos + bh * sin) / 2, (bw * sin + bh * cos) / 2
    # a margin above float32 rounding: the pairs are a superset
    pad = 1e-3 + 1e-5 * (cx.abs() + cy.abs() + half_w + half_h)
    hulls = torch.stack([cx - half_w - pad, cy - half_h - pad,
                         cx + half_w + pad, cy + half_h + pad], 1)
    area = bw * bh
    parents, children = [], []
    for a, b in _hull_pairs(hulls, labels):
        # IoU <= I / (A + B - I), I = the most the two boxes can share
        # (their hulls' intersection, the smaller box): pairs whose bound is
        # well under the threshold (mmcv's float32 IoU of a sliver box can
        # exceed the bound by ~2e-3) are not computed
        inter = ((torch.minimum(hulls[a, 2], hulls[b, 2]) -
                  torch.maximum(hulls[a, 0], hulls[b, 0])).clamp(min=0) *
                 (torch.minimum(hulls[a, 3], hulls[b, 3]) -
                  torch.maximum(hulls[a, 1], hulls[b, 1])).clamp(min=0))
        inter = torch.minimum(inter, torch.minimum(area[a], area[b]))
        bound = inter / (area[a] + area[b] - inter).clamp(min=1e-12)
        near = bound >= iou_threshold - _IOU_BOUND_MARGIN
        a, b = a[near], b[near]
        higher = rank[a] < rank[b]
        a, b = torch.where(higher, a, b), torch.where(higher, b, a)
        hit = box_iou_rotated(boxes[a], boxes[b],
                              aligned=True) >= iou_threshold
        parents.append(a[hit])
        children.append(b[hit])
    a, b = torch.cat(parents), torch.cat(children)
    undecided, kept, suppressed = 0, 1, 2
    state = torch.zeros(n, dtype=torch.uint8, device=device)
    while True:
        open_parents = torch.zeros_like(rank).index_add_(
            0, b, (state[a] != suppressed).long())
        by_kept = torch.zeros_like(rank).index_add_(
            0, b, (state[a] == kept).long())
        todo = state == undecided
        state[todo & (by_kept > 0)] = suppressed
        state[todo & (by_kept == 0) & (open_parents == 0)] = kept
        if not bool((state == undecided).any()):
            break
    keep = torch.nonzero(state == kept).view(-1)
    return keep[scores[keep].argsort(descending=True)]
