"""Patch-wise inference of scenes larger than the network input.

The scene is cut into overlapping windows (:func:`patch_offsets`) that go
through the model ``batch_size`` at a time, so memory is bounded by one batch
of windows plus the outputs, never by a full-scene tensor:

- detection (:func:`inference_detector_large_scene`): each window's rotated
  boxes are shifted back (mmdet's ``shift_rbboxes``), merged over the scene
  with class-wise rotated NMS (:func:`classwise_rotated_nms`: the result of
  mmcv's ``nms_rotated`` class by class, with IoUs computed only for boxes
  whose axis-aligned hulls meet, so the merge grows with the number of
  overlapping boxes, not with the square of the scene's box count) and boxes
  whose centre lies outside the scene are dropped;
- segmentation (:func:`inference_segmentor_large_scene`): every pixel takes
  the label of the window whose centre is nearest (the seams sit half-way
  between neighbouring window centres), written into one ``uint8`` /
  ``int16`` label map of the scene's size.
"""
from typing import List, Optional, Tuple

import numpy as np
import torch
from mmcv.transforms import Compose
from mmdet.structures import DetDataSample
from mmdet.utils.large_image import shift_rbboxes
from mmengine.structures import InstanceData, PixelData
from mmseg.structures import SegDataSample
from torch import Tensor, nn

from s5_mm.models.utils.rotated_nms import classwise_rotated_nms
from .inference import inference_images


def _starts(size: int, patch: int, step: int) -> List[int]:
    if size <= patch:
        return [0]
    return list(range(0, size - patch, step)) + [size - patch]


def patch_offsets(height: int, width: int, patch_size: int,
                  overlap: int) -> List[Tuple[int, int]]:
    """Top-left ``(x, y)`` of the sliding windows covering an image.

    Args:
        height (int): image height.
        width (int): image width.
        patch_size (int): window side.
        overlap (int): overlap of neighbouring windows, in ``[0,
            patch_size)``.
    """
    if not 0 <= overlap < patch_size:
        raise ValueError(f'patch overlap {overlap} must be in '
                         f'[0, patch size {patch_size})')
    step = patch_size - overlap
    return [(x, y) for y in _starts(height, patch_size, step)
            for x in _starts(width, patch_size, step)]


def _needs_patches(image: np.ndarray, patch_size: Optional[int]) -> bool:
    return patch_size is not None and max(image.shape[:2]) > patch_size


def inference_detector_large_scene(model: nn.Module,
                                   image: np.ndarray,
                                   pipeline: Compose,
                                   patch_size: Optional[int] = None,
                                   patch_overlap: int = 200,
                                   nms_iou: float = 0.1,
                                   batch_size: int = 1) -> DetDataSample:
    """Rotated boxes of one (possibly large) BGR image.

    Args:
        model (nn.Module): a rotated detector in eval mode.
        image (np.ndarray): HxWx3 BGR scene.
        pipeline (Compose): from :func:`~s5_mm.apis.build_inference_pipeline`.
        patch_size (int, optional): cut images larger than this into
            overlapping windows of this size; None = the whole image at once.
        patch_overlap (int): overlap of neighbouring windows in pixels.
        nms_iou (float): rotated-NMS IoU threshold merging the windows, in
            (0, 1] (:func:`classwise_rotated_nms`).
        batch_size (int): windows per forward pass.

    Returns:
        DetDataSample: ``pred_instances`` (bboxes (N, 5) cx, cy, w, h,
        angle in scene pixels; scores; labels).
    """
    if not _needs_patches(image, patch_size):
        return inference_images(model, pipeline, [image])[0]
    h, w = image.shape[:2]
    offsets = patch_offsets(h, w, patch_size, patch_overlap)
    parts = []
    for i in range(0, len(offsets), batch_size):
        chunk = offsets[i:i + batch_size]
        crops = [image[y:y + patch_size, x:x + patch_size] for x, y in chunk]
        for (x, y), result in zip(chunk,
                                  inference_images(model, pipeline, crops)):
            pred = result.pred_instances
            pred.bboxes = shift_rbboxes(pred.bboxes, (x, y))
            parts.append(pred)
    merged = InstanceData.cat(parts)
    if len(merged):
        merged = merged[classwise_rotated_nms(merged.bboxes, merged.scores,
                                              merged.labels, nms_iou)]
        cx, cy = merged.bboxes[:, 0], merged.bboxes[:, 1]
        merged = merged[(cx >= 0) & (cx < w) & (cy >= 0) & (cy < h)]
    sample = DetDataSample(metainfo=dict(ori_shape=(h, w), img_shape=(h, w)))
    sample.pred_instances = merged
    return sample


def _seams(starts: List[int], patch: int, size: int) -> List[Tuple[int,
                                                                   int]]:
    """Per window the [begin, end) it owns along one axis: seams half-way
    between neighbouring window centres."""
    cuts = [0] + [(a + b + patch) // 2
                  for a, b in zip(starts[:-1], starts[1:])] + [size]
    return list(zip(cuts[:-1], cuts[1:]))


def inference_segmentor_large_scene(model: nn.Module,
                                    image: np.ndarray,
                                    pipeline: Compose,
                                    patch_size: Optional[int] = None,
                                    patch_overlap: int = 128,
                                    batch_size: int = 1) -> SegDataSample:
    """Semantic labels of one (possibly large) BGR image.

    Args:
        model (nn.Module): a segmentor in eval mode.
        image (np.ndarray): HxWx3 BGR scene.
        pipeline (Compose): from :func:`~s5_mm.apis.build_inference_pipeline`.
        patch_size (int, optional): cut images larger than this into
            overlapping windows of this size; None = the whole image at once
            (then the model's own ``test_cfg`` decides whole / slide).
        patch_overlap (int): overlap of neighbouring windows in pixels.
        batch_size (int): windows per forward pass.

    Returns:
        SegDataSample: ``pred_sem_seg`` (1, H, W) of the scene (``uint8``
        labels, ``int16`` for more than 255 classes); no ``seg_logits`` in
        patch-wise mode.
    """
    if not _needs_patches(image, patch_size):
        return inference_images(model, pipeline, [image])[0]
    h, w = image.shape[:2]
    step = patch_size - patch_overlap
    patch_offsets(h, w, patch_size, patch_overlap)  # checks the overlap
    xs, ys = _starts(w, patch_size, step), _starts(h, patch_size, step)
    own = {(x, y): (sx, sy)
           for x, sx in zip(xs, _seams(xs, patch_size, w))
           for y, sy in zip(ys, _seams(ys, patch_size, h))}
    offsets = [(x, y) for y in ys for x in xs]
    labels = None
    for i in range(0, len(offsets), batch_size):
        chunk = offsets[i:i + batch_size]
        crops = [image[y:y + patch_size, x:x + patch_size] for x, y in chunk]
        for (x, y), result in zip(chunk,
                                  inference_images(model, pipeline, crops)):
            pred = result.pred_sem_seg.data[0]
            if labels is None:
                classes = result.seg_logits.data.shape[0] if \
                    'seg_logits' in result else 256
                dtype = np.uint8 if classes <= 255 else np.int16
                labels = np.zeros((h, w), dtype=dtype)
            (x0, x1), (y0, y1) = own[(x, y)]
            labels[y0:y1, x0:x1] = pred[y0 - y:y1 - y,
                                        x0 - x:x1 - x].cpu().numpy()
    sample = SegDataSample(metainfo=dict(ori_shape=(h, w), img_shape=(h, w)))
    sample.pred_sem_seg = PixelData(data=torch.from_numpy(labels)[None])
    return sample
