"""Patch-wise inference of scenes larger than the network input: one code
path from a scene *source* to a *sink*.

The scene is cut into overlapping windows (:func:`scene_windows`), row by
row; each window is read from the source (an in-memory array,
:class:`~s5_mm.apis.scene_source.ArraySource`, or a raster file read window
by window, :class:`~s5_mm.apis.scene_source.RasterSource`), windows that are
all nodata are skipped, and the rest go through the model ``batch_size`` at
a time (batches never span two window rows, so a resumed run batches the
remaining rows as an uninterrupted run does). Memory is bounded by one
batch of windows plus what the sink keeps, never by the scene:

- segmentation (:func:`inference_segmentor_scene`): every pixel takes the
  label of the window whose centre is nearest (the seams sit half-way
  between neighbouring window centres; measured against logit blending in
  ``docs/scenes.md``); pixels that are nodata in the source get the sink's
  nodata value. Each window's owned part goes to a label sink (an array, or
  a GeoTIFF written window by window, :mod:`s5_mm.apis.scene_sink`);
- detection (:func:`inference_detector_scene`): each window's rotated boxes
  are shifted back (mmdet's ``shift_rbboxes``), boxes centred on nodata
  dropped, kept per window row by a box sink, and merged over the scene with
  class-wise rotated NMS (:func:`classwise_rotated_nms`: mmcv's
  ``nms_rotated`` class by class, IoUs only for boxes whose axis-aligned
  hulls meet); boxes whose centre lies outside the scene are dropped.

A sink that says a window row is done (a resumed run) has it skipped.
:func:`inference_detector_large_scene` and
:func:`inference_segmentor_large_scene` are the in-memory case.
"""
from dataclasses import dataclass
from typing import Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmcv.transforms import Compose
from mmdet.structures import DetDataSample
from mmdet.utils.large_image import shift_rbboxes
from mmengine.structures import InstanceData, PixelData
from mmengine.utils import ProgressBar
from mmseg.structures import SegDataSample
from torch import nn

from s5_mm.models.utils.rotated_nms import classwise_rotated_nms
from .inference import inference_images
from .scene_sink import (ArrayBoxSink, ArrayLabelSink, BoxSink, LabelSink,
                         label_dtype)
from .scene_source import ArraySource, SceneSource, scene_env


def _starts(size: int, patch: int, step: int) -> List[int]:
    if size <= patch:
        return [0]
    return list(range(0, size - patch, step)) + [size - patch]


def _check_overlap(patch_size: int, overlap: int) -> None:
    if not 0 <= overlap < patch_size:
        raise ValueError(f'patch overlap {overlap} must be in '
                         f'[0, patch size {patch_size})')


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
    _check_overlap(patch_size, overlap)
    step = patch_size - overlap
    return [(x, y) for y in _starts(height, patch_size, step)
            for x in _starts(width, patch_size, step)]


def _seams(starts: List[int], patch: int, size: int) -> List[Tuple[int,
                                                                   int]]:
    """Per window the [begin, end) it owns along one axis: seams half-way
    between neighbouring window centres."""
    cuts = [0] + [(a + b + patch) // 2
                  for a, b in zip(starts[:-1], starts[1:])] + [size]
    return list(zip(cuts[:-1], cuts[1:]))


@dataclass(frozen=True)
class Window:
    """One window: the part read (``x, y, w, h``) and the part it owns
    (``own = (x0, y0, x1, y1)``, scene pixels, end exclusive)."""
    x: int
    y: int
    w: int
    h: int
    own: Tuple[int, int, int, int]


def scene_windows(height: int, width: int, patch_size: int,
                  overlap: int) -> List[List[Window]]:
    """The windows of a scene, row by row (the order of
    :func:`patch_offsets`); each owns the pixels nearer its centre than
    any other window's, so the owned parts tile the scene."""
    _check_overlap(patch_size, overlap)
    step = patch_size - overlap
    xs, ys = _starts(width, patch_size, step), _starts(height, patch_size,
                                                       step)
    cols = list(zip(xs, _seams(xs, patch_size, width)))
    return [[
        Window(x, y, min(patch_size, width - x), min(patch_size, height - y),
               (x0, y0, x1, y1)) for x, (x0, x1) in cols
    ] for y, (y0, y1) in zip(ys, _seams(ys, patch_size, height))]


def _batches(source: SceneSource, row: Sequence[Window], batch_size: int,
             bar: Optional[ProgressBar]) -> Iterator[list]:
    """``[(window, image, valid), ...]`` of a row, ``batch_size`` at a
    time; all-nodata windows are skipped (counted on the bar)."""
    batch = []
    for win in row:
        image, valid = source.read(win.x, win.y, win.w, win.h)
        if valid is not None and not valid.any():
            if bar is not None:
                bar.update()
            continue
        batch.append((win, image, valid))
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def _run_rows(model: nn.Module, pipeline: Compose, source: SceneSource,
              sink, patch_size: int, overlap: int, batch_size: int,
              progress: bool) -> Iterator[Tuple[str, int, object]]:
    """The work of the window rows the sink has not done, as events:
    ``('begin', r, (y0, y1))`` (the rows the row owns), ``('batch', r,
    [(window, valid, result), ...])``, ``('end', r, None)``."""
    if batch_size < 1:
        raise ValueError(f'batch size {batch_size} must be >= 1')
    rows = scene_windows(source.height, source.width, patch_size, overlap)
    bar = ProgressBar(sum(map(len, rows))) if progress else None
    for r, row in enumerate(rows):
        if sink.done(r):
            if bar is not None:
                bar.update(len(row))
            continue
        yield 'begin', r, (row[0].own[1], row[0].own[3])
        for batch in _batches(source, row, batch_size, bar):
            results = inference_images(model, pipeline,
                                       [image for _, image, _ in batch])
            yield 'batch', r, [(win, valid, res) for (win, _, valid), res
                               in zip(batch, results)]
            if bar is not None:
                bar.update(len(batch))
        yield 'end', r, None
    if bar is not None:
        bar.file.write('\n')


def window_labels(result: SegDataSample, confidence: bool
                  ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
    """A window's labels and, with ``confidence``, the probability of the
    predicted class (softmax; sigmoid for a one-channel head)."""
    labels = result.pred_sem_seg.data[0]
    if not confidence:
        return labels, None
    logits = result.seg_logits.data.float()
    if logits.shape[0] == 1:
        p = logits[0].sigmoid()
        return labels, torch.maximum(p, 1 - p)
    return labels, logits.softmax(0).max(0).values


def inference_segmentor_scene(model: nn.Module,
                              pipeline: Compose,
                              source: SceneSource,
                              sink: LabelSink,
                              patch_size: int,
                              patch_overlap: int = 128,
                              batch_size: int = 1,
                              progress: bool = False):
    """Semantic labels of a scene, window by window, from source to sink.

    Args:
        model (nn.Module): a segmentor in eval mode.
        pipeline (Compose): from :func:`~s5_mm.apis.build_inference_pipeline`.
        source (SceneSource): the scene (BGR ``uint8`` windows and their
            valid masks).
        sink (LabelSink): where the owned part of every window goes.
        patch_size (int): window side.
        patch_overlap (int): overlap of neighbouring windows in pixels.
        batch_size (int): windows per forward pass.
        progress (bool): show a progress bar counting windows.

    Returns:
        What ``sink.close()`` returns.
    """
    with scene_env():
        return _segment(model, pipeline, source, sink, patch_size,
                        patch_overlap, batch_size, progress)


def _segment(model, pipeline, source, sink, patch_size, patch_overlap,
             batch_size, progress):
    for event, r, batch in _run_rows(model, pipeline, source, sink,
                                     patch_size, patch_overlap, batch_size,
                                     progress):
        if event == 'begin':
            sink.begin_row(r, *batch)
        elif event == 'end':
            sink.end_row(r)
        if event != 'batch':
            continue
        for win, valid, result in batch:
            labels, conf = window_labels(result, sink.with_confidence)
            x0, y0, x1, y1 = win.own
            part = (slice(y0 - win.y, y1 - win.y),
                    slice(x0 - win.x, x1 - win.x))
            labels = labels[part].cpu().numpy().astype(
                label_dtype(result), copy=False)
            conf = None if conf is None else conf[part].cpu().numpy()
            sink.write(x0, y0, labels, conf,
                       None if valid is None else valid[part])
    return sink.close()


def _drop_on_nodata(pred: InstanceData, valid: Optional[np.ndarray]):
    """Boxes (window pixels) whose centre pixel is valid."""
    if valid is None or not len(pred):
        return pred
    h, w = valid.shape
    cx = pred.bboxes[:, 0].floor().long().clamp(0, w - 1).cpu().numpy()
    cy = pred.bboxes[:, 1].floor().long().clamp(0, h - 1).cpu().numpy()
    return pred[torch.from_numpy(valid[cy, cx]).to(pred.scores.device)]


def merge_boxes(parts: Sequence[InstanceData], height: int, width: int,
                nms_iou: float) -> InstanceData:
    """Scene boxes from the windows' shifted boxes: class-wise rotated NMS,
    then boxes centred outside the scene dropped."""
    merged = InstanceData.cat(list(parts))
    if len(merged):
        merged = merged[classwise_rotated_nms(merged.bboxes, merged.scores,
                                              merged.labels, nms_iou)]
        cx, cy = merged.bboxes[:, 0], merged.bboxes[:, 1]
        merged = merged[(cx >= 0) & (cx < width) & (cy >= 0) & (cy < height)]
    return merged


def inference_detector_scene(model: nn.Module,
                             pipeline: Compose,
                             source: SceneSource,
                             sink: BoxSink,
                             patch_size: int,
                             patch_overlap: int = 200,
                             nms_iou: float = 0.1,
                             batch_size: int = 1,
                             progress: bool = False) -> DetDataSample:
    """Rotated boxes of a scene, window by window, merged over the scene.

    Args:
        model (nn.Module): a rotated detector in eval mode.
        pipeline (Compose): from :func:`~s5_mm.apis.build_inference_pipeline`.
        source (SceneSource): the scene.
        sink (BoxSink): keeps each window row's boxes (in memory or on disk,
            for resuming) until the merge.
        patch_size (int): window side.
        patch_overlap (int): overlap of neighbouring windows in pixels.
        nms_iou (float): rotated-NMS IoU threshold merging the windows, in
            (0, 1] (:func:`classwise_rotated_nms`).
        batch_size (int): windows per forward pass.
        progress (bool): show a progress bar counting windows.

    Returns:
        DetDataSample: ``pred_instances`` (bboxes (N, 5) cx, cy, w, h,
        angle in scene pixels; scores; labels).
    """
    with scene_env():
        return _detect(model, pipeline, source, sink, patch_size,
                       patch_overlap, nms_iou, batch_size, progress)


def _detect(model, pipeline, source, sink, patch_size, patch_overlap,
            nms_iou, batch_size, progress) -> DetDataSample:
    parts = []
    for event, r, batch in _run_rows(model, pipeline, source, sink,
                                     patch_size, patch_overlap, batch_size,
                                     progress):
        if event == 'begin':
            parts = []
        elif event == 'end':
            sink.end_row(r, parts)
        if event != 'batch':
            continue
        for win, valid, result in batch:
            pred = _drop_on_nodata(result.pred_instances, valid)
            pred.bboxes = shift_rbboxes(pred.bboxes, (win.x, win.y))
            parts.append(pred)
    h, w = source.height, source.width
    sample = DetDataSample(metainfo=dict(ori_shape=(h, w), img_shape=(h, w)))
    sample.pred_instances = merge_boxes(sink.parts(), h, w, nms_iou)
    sink.close(sample)
    return sample


def _needs_patches(image: np.ndarray, patch_size: Optional[int]) -> bool:
    return patch_size is not None and max(image.shape[:2]) > patch_size


def inference_detector_large_scene(model: nn.Module,
                                   image: np.ndarray,
                                   pipeline: Compose,
                                   patch_size: Optional[int] = None,
                                   patch_overlap: int = 200,
                                   nms_iou: float = 0.1,
                                   batch_size: int = 1) -> DetDataSample:
    """Rotated boxes of one (possibly large) BGR image held in memory: the
    in-memory case of :func:`inference_detector_scene`.

    Args:
        model (nn.Module): a rotated detector in eval mode.
        image (np.ndarray): HxWx3 BGR scene.
        pipeline (Compose): from :func:`~s5_mm.apis.build_inference_pipeline`.
        patch_size (int, optional): cut images larger than this into
            overlapping windows of this size; None = the whole image at once.
        patch_overlap (int): overlap of neighbouring windows in pixels.
        nms_iou (float): rotated-NMS IoU threshold merging the windows.
        batch_size (int): windows per forward pass.

    Returns:
        DetDataSample: ``pred_instances`` in scene pixels.
    """
    if not _needs_patches(image, patch_size):
        return inference_images(model, pipeline, [image])[0]
    return inference_detector_scene(model, pipeline, ArraySource(image),
                                    ArrayBoxSink(), patch_size,
                                    patch_overlap, nms_iou, batch_size)


def inference_segmentor_large_scene(model: nn.Module,
                                    image: np.ndarray,
                                    pipeline: Compose,
                                    patch_size: Optional[int] = None,
                                    patch_overlap: int = 128,
                                    batch_size: int = 1) -> SegDataSample:
    """Semantic labels of one (possibly large) BGR image held in memory: the
    in-memory case of :func:`inference_segmentor_scene`.

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
    labels, _ = inference_segmentor_scene(
        model, pipeline, ArraySource(image), ArrayLabelSink(h, w),
        patch_size, patch_overlap, batch_size)
    sample = SegDataSample(metainfo=dict(ori_shape=(h, w), img_shape=(h, w)))
    sample.pred_sem_seg = PixelData(data=torch.from_numpy(labels)[None])
    return sample
