"""Inference of (multi-dataset) rotated detectors on images of any size.

The test pipeline of one dataset is taken from the config (the dataset whose
pipeline ends with ``SetDatasetName(name)``), without its annotation
loading, so images need no labels and samples are routed to that dataset's
head. Large scenes are cut into overlapping windows, each window is
detected and the boxes are shifted back (mmdet's ``shift_rbboxes``) and
merged with rotated NMS (``mmcv.ops.batched_nms``), like mmdet's
large-image demo but without its ``sahi`` dependency.
"""
import copy
from typing import Iterator, List, Optional, Tuple, Union

import mmcv
import numpy as np
import torch
from mmcv.ops import batched_nms
from mmcv.transforms import Compose
from mmdet.structures import DetDataSample
from mmdet.utils.large_image import shift_rbboxes
from mmengine.config import Config, ConfigDict
from mmengine.dataset import pseudo_collate
from mmengine.model.utils import revert_sync_batchnorm
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint
from mmengine.structures import InstanceData
from mmrotate.registry import MODELS
from torch import nn

from s5_mm.engine.runner import pipeline_dataset_name

DROP_FOR_INFERENCE = ('LoadAnnotations', 'ConvertBoxType')


def _short(type_name: str) -> str:
    return type_name.split('.')[-1]


def _dataset_cfgs(cfg: ConfigDict) -> Iterator[ConfigDict]:
    """Every leaf dataset config inside (Concat/RepeatDataset) wrappers."""
    if 'datasets' in cfg:
        for sub in cfg['datasets']:
            yield from _dataset_cfgs(sub)
    elif 'dataset' in cfg:
        yield from _dataset_cfgs(cfg['dataset'])
    else:
        yield cfg


def find_dataset(cfg: Config, dataset_name: Optional[str] = None,
                 split: str = 'test') -> ConfigDict:
    """The ``<split>_dataloader`` dataset config of ``dataset_name``.

    Args:
        cfg (Config): a detection config.
        dataset_name (str, optional): name set by ``SetDatasetName`` in the
            dataset's pipeline; may be omitted when there is one dataset.
        split (str): 'test' or 'val'.

    Returns:
        ConfigDict: that dataset's config (with ``pipeline`` and metainfo
        class).
    """
    loader = cfg.get(f'{split}_dataloader')
    if not loader:
        raise KeyError(f'the config has no {split}_dataloader to take the '
                       'test pipeline from')
    found = {}
    for ds in _dataset_cfgs(loader['dataset']):
        found[pipeline_dataset_name(ds.get('pipeline', []))] = ds
    if dataset_name is None:
        if len(found) != 1:
            raise ValueError(
                f'the config has datasets {sorted(map(str, found))}: choose '
                'one with --dataset NAME')
        return next(iter(found.values()))
    if dataset_name not in found:
        raise ValueError(
            f"unknown dataset '{dataset_name}': the config's "
            f'{split}_dataloader has datasets {sorted(map(str, found))} '
            '(names set by SetDatasetName in their pipelines)')
    return found[dataset_name]


def dataset_metainfo(dataset_cfg: ConfigDict) -> dict:
    """``classes`` / ``palette`` of a dataset config: its ``metainfo``
    override, else the dataset class's ``METAINFO``."""
    from mmrotate.registry import DATASETS
    with DATASETS.switch_scope_and_registry('mmrotate') as registry:
        cls = registry.get(dataset_cfg['type'])
    if cls is None:
        raise KeyError(f"dataset type '{dataset_cfg['type']}' is not "
                       'registered (import s5_mm / mmrotate first)')
    meta = copy.deepcopy(getattr(cls, 'METAINFO', {}))
    meta.update(dataset_cfg.get('metainfo') or {})
    return meta


def draw_rotated_detections(image: np.ndarray,
                            sample: DetDataSample,
                            metainfo: dict,
                            score_thr: float = 0.3,
                            out_file: Optional[str] = None) -> np.ndarray:
    """Draw rotated boxes with class names and scores (mmrotate's
    ``RotLocalVisualizer``).

    Args:
        image (np.ndarray): HxWx3 BGR image the boxes refer to.
        sample (DetDataSample): with ``pred_instances``.
        metainfo (dict): ``classes`` and ``palette`` of the dataset.
        score_thr (float): boxes with a lower score are not drawn.
        out_file (str, optional): also write the drawing there.

    Returns:
        np.ndarray: the drawn RGB image.
    """
    from mmrotate.visualization import RotLocalVisualizer
    visualizer = RotLocalVisualizer(
        name=f'rotated_demo_{id(sample)}', line_width=2)
    visualizer.dataset_meta = metainfo
    visualizer.add_datasample(
        'result', mmcv.bgr2rgb(image), sample, draw_gt=False, show=False,
        pred_score_thr=score_thr, out_file=out_file)
    return visualizer.get_image()


def build_inference_pipeline(dataset_cfg: ConfigDict) -> Compose:
    """The dataset's test pipeline for an ``np.ndarray`` image, without
    annotation loading."""
    steps = []
    for t in copy.deepcopy(dataset_cfg['pipeline']):
        name = _short(t['type'])
        if name in DROP_FOR_INFERENCE:
            continue
        if name == 'LoadImageFromFile':
            t = dict(type='mmdet.LoadImageFromNDArray')
        steps.append(t)
    return Compose(steps)


def _windows(size: int, patch: int, step: int) -> List[int]:
    if size <= patch:
        return [0]
    starts = list(range(0, size - patch, step))
    return starts + [size - patch]


def patch_offsets(height: int, width: int, patch_size: int,
                  overlap: int) -> List[Tuple[int, int]]:
    """Top-left (x, y) of sliding windows covering the image."""
    if not 0 <= overlap < patch_size:
        raise ValueError(f'patch overlap {overlap} must be in '
                         f'[0, patch size {patch_size})')
    step = patch_size - overlap
    return [(x, y) for y in _windows(height, patch_size, step)
            for x in _windows(width, patch_size, step)]


@torch.no_grad()
def _detect(model: nn.Module, pipeline: Compose,
            images: List[np.ndarray]) -> List[DetDataSample]:
    data = pseudo_collate([pipeline(dict(img=img)) for img in images])
    return model.test_step(data)


def inference_rotated_detector(
        model: nn.Module,
        image: np.ndarray,
        pipeline: Compose,
        patch_size: Optional[int] = None,
        patch_overlap: int = 200,
        nms_iou: float = 0.1,
        batch_size: int = 1) -> DetDataSample:
    """Rotated boxes for one (possibly large) BGR image.

    Args:
        model (nn.Module): a built detector in eval mode.
        image (np.ndarray): HxWx3 BGR image.
        pipeline (Compose): from :func:`build_inference_pipeline`.
        patch_size (int, optional): cut images larger than this into
            overlapping windows of this size; None = whole image at once.
        patch_overlap (int): overlap of neighbouring windows in pixels.
        nms_iou (float): rotated-NMS IoU threshold merging the windows.
        batch_size (int): windows per forward pass.

    Returns:
        DetDataSample: ``pred_instances`` (bboxes (N, 5) cx, cy, w, h, angle
        in image pixels; scores; labels).
    """
    h, w = image.shape[:2]
    if patch_size is None or (h <= patch_size and w <= patch_size):
        return _detect(model, pipeline, [image])[0]
    offsets = patch_offsets(h, w, patch_size, patch_overlap)
    parts = []
    for i in range(0, len(offsets), batch_size):
        chunk = offsets[i:i + batch_size]
        crops = [image[y:y + patch_size, x:x + patch_size]
                 for x, y in chunk]
        for (x, y), result in zip(chunk, _detect(model, pipeline, crops)):
            pred = result.pred_instances
            pred.bboxes = shift_rbboxes(pred.bboxes, (x, y))
            parts.append(pred)
    merged = InstanceData.cat(parts)
    _, keep = batched_nms(merged.bboxes, merged.scores, merged.labels,
                          dict(type='nms_rotated', iou_threshold=nms_iou))
    sample = DetDataSample(metainfo=dict(ori_shape=(h, w), img_shape=(h, w)))
    sample.pred_instances = merged[keep]
    return sample


def init_rotated_detector(config: Union[str, Config],
                          checkpoint: Optional[str] = None,
                          device: str = 'cpu') -> nn.Module:
    """Build a detector from a config (mmrotate scope), load weights.

    Unlike mmdet's ``init_detector`` this builds no dataset, so the
    training data need not be present.
    """
    cfg = Config.fromfile(config) if isinstance(config, str) else config
    init_default_scope(cfg.get('default_scope', 'mmrotate'))
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.backbone.pop('init_cfg', None)
    model = revert_sync_batchnorm(MODELS.build(model_cfg))
    if checkpoint is not None:
        load_checkpoint(model, checkpoint, map_location='cpu')
    return model.to(device).eval()


def rotated_detection_demo(model: nn.Module,
                           cfg: Config,
                           image: str,
                           dataset_name: Optional[str] = None,
                           out_file: Optional[str] = None,
                           score_thr: float = 0.3,
                           patch_size: Optional[int] = None,
                           patch_overlap: int = 200) -> DetDataSample:
    """Detect rotated objects in an image file with one dataset's head and
    draw them with class names and scores.

    Args:
        model (nn.Module): from :func:`init_rotated_detector`.
        cfg (Config): the model's config (test pipeline, dataset classes).
        image (str): image file.
        dataset_name (str, optional): which dataset's head and classes to
            use; needed when the config has several datasets.
        out_file (str, optional): where to write the drawing.
        score_thr (float): boxes with a lower score are not drawn.
        patch_size (int, optional): patch-wise inference for larger images.
        patch_overlap (int): overlap of the patches in pixels.

    Returns:
        DetDataSample: predictions in image pixels.
    """
    dataset_cfg = find_dataset(cfg, dataset_name)
    img = mmcv.imread(image)
    if img is None:
        raise FileNotFoundError(f'cannot read image {image}')
    result = inference_rotated_detector(
        model, img, build_inference_pipeline(dataset_cfg),
        patch_size=patch_size, patch_overlap=patch_overlap)
    draw_rotated_detections(img, result, dataset_metainfo(dataset_cfg),
                            score_thr, out_file)
    return result
