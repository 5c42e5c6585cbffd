"""Build a model from a config + checkpoint and predict single images.

Like ``mmseg.apis.init_model`` / ``mmdet.apis.init_detector``, for every
s5_mm model kind (mmseg / mmrotate scope; plain, multi-dataset and
semi-supervised ``FixMatchSegmentor`` models), without building a dataset,
so no training data need be present.
"""
import copy
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmcv.transforms import Compose
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.model.utils import revert_sync_batchnorm
from mmengine.registry import MODELS, init_default_scope
from mmengine.runner import load_checkpoint
from mmengine.structures import BaseDataElement
from torch import nn

from s5_mm.datasets.dataset_lookup import (dataset_metainfo, find_dataset,
                                          pipeline_dataset_name)

# label loaders (mmseg's LoadAnnotations and s5_mm's LoadAnnotationsChecked,
# matched by prefix) and box conversions need annotations: dropped
DROP_FOR_INFERENCE = ('LoadAnnotations', 'ConvertBoxType')
_NDARRAY_LOADER = {'mmseg': 'LoadImageFromNDArray',
                   'mmrotate': 'mmdet.LoadImageFromNDArray',
                   'mmdet': 'LoadImageFromNDArray'}


def _short(type_name: str) -> str:
    return str(type_name).split('.')[-1]


def init_model(config: Union[str, Config],
               checkpoint: Optional[str] = None,
               device: str = 'cpu',
               cfg_options: Optional[dict] = None) -> nn.Module:
    """Build the model of a config and load a checkpoint.

    Unlike mmseg's ``init_model`` it adds no ``pretrained`` argument (which
    ``FixMatchSegmentor`` and the multi-dataset models do not take) and
    works for any ``default_scope``. A ``FixMatchSegmentor`` is built whole
    (student and, with ``teacher='ema'``, the teacher) and predicts with the
    model its ``semi_test_cfg.predict_on`` names.

    Args:
        config (str | Config): config file or object.
        checkpoint (str, optional): checkpoint file; None keeps the random
            initialisation.
        device (str): e.g. 'cpu', 'cuda:0'.
        cfg_options (dict, optional): overrides merged into the config.

    Returns:
        nn.Module: the model in eval mode, with ``model.cfg`` set.
    """
    cfg = Config.fromfile(config) if isinstance(config, str) else \
        copy.deepcopy(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    model_cfg = copy.deepcopy(cfg.model)
    if model_cfg.get('pretrained', None) is not None:
        model_cfg.pretrained = None  # the checkpoint holds every weight
    model = revert_sync_batchnorm(MODELS.build(model_cfg))
    if checkpoint is not None:
        ckpt = load_checkpoint(model, checkpoint, map_location='cpu')
        meta = ckpt.get('meta', {}).get('dataset_meta') if isinstance(
            ckpt, dict) else None
        if meta:
            model.dataset_meta = meta
    model.cfg = cfg
    return model.to(device).eval()


def build_inference_pipeline(dataset_cfg: dict,
                             scope: str = 'mmseg',
                             dataset_name: Optional[str] = None) -> Compose:
    """A dataset's test pipeline for an ``np.ndarray`` image without labels.

    Args:
        dataset_cfg (dict): leaf dataset config (from
            :func:`~s5_mm.apis.find_dataset`).
        scope (str): the config's ``default_scope``.
        dataset_name (str, optional): appended as ``SetDatasetName`` when
            the pipeline has none (multi-dataset models route by it).

    Returns:
        Compose: the built pipeline, taking ``dict(img=array)``.
    """
    steps = []
    for t in copy.deepcopy(list(dataset_cfg['pipeline'])):
        name = _short(t['type'])
        if name.startswith(DROP_FOR_INFERENCE):
            continue
        if name in ('LoadImageFromFile', 'LoadImageChecked'):
            t = dict(type=_NDARRAY_LOADER.get(scope, 'LoadImageFromNDArray'))
        steps.append(t)
    if dataset_name is not None and pipeline_dataset_name(steps) is None:
        steps.append(dict(type='SetDatasetName', name=dataset_name))
    return Compose(steps)


def init_predictor(cfg: Config,
                   checkpoint: Optional[str],
                   device: str = 'cpu',
                   dataset: Optional[str] = None
                   ) -> Tuple[nn.Module, Compose, dict, Optional[str]]:
    """Model, inference pipeline and metainfo of the dataset it predicts for
    (what the demo and the scene tool start from).

    Args:
        cfg (Config): the model's config.
        checkpoint (str, optional): checkpoint file.
        device (str): e.g. 'cpu', 'cuda:0'.
        dataset (str, optional): a multi-dataset model's dataset (its
            expert, head, test pipeline, classes, palette); required when it
            has several.

    Returns:
        tuple: ``(model, pipeline, metainfo, dataset name)``; the name is
        the dataset's ``SetDatasetName`` for multi-dataset models, else
        ``dataset`` as given or the dataset config's type.
    """
    model = init_model(cfg, checkpoint, device=device)
    names = getattr(model, 'dataset_names', None)
    if names is not None:
        names = list(names)
        if dataset is None and len(names) > 1:
            raise ValueError(f'this model predicts for several datasets '
                             f'{names}: choose one with --dataset NAME')
        if dataset is not None and dataset not in names:
            raise ValueError(f"--dataset '{dataset}' is not one of the "
                             f"model's datasets {names}")
        dataset = dataset or names[0]
    scope = cfg.get('default_scope', 'mmseg')
    dataset_cfg = find_dataset(cfg, dataset)
    pipeline = build_inference_pipeline(
        dataset_cfg, scope, dataset if names is not None else None)
    meta = dataset_metainfo(dataset_cfg, scope)
    if 'classes' not in meta:
        raise KeyError(f"dataset {dataset_cfg['type']} has no classes in its "
                       'METAINFO or the config\'s metainfo')
    return model, pipeline, meta, dataset or _short(dataset_cfg['type'])


@torch.no_grad()
def inference_images(model: nn.Module, pipeline: Compose,
                     images: Sequence[np.ndarray]) -> List[BaseDataElement]:
    """Predictions of a batch of BGR images (``SegDataSample`` or
    ``DetDataSample``, in image pixels).

    Args:
        model (nn.Module): from :func:`init_model`.
        pipeline (Compose): from :func:`build_inference_pipeline`.
        images (Sequence[np.ndarray]): HxWx3 BGR images.
    """
    data = pseudo_collate([pipeline(dict(img=img)) for img in images])
    return model.test_step(data)


def inference_image(model: nn.Module, pipeline: Compose,
                    image: np.ndarray) -> BaseDataElement:
    """The prediction of one BGR image (see :func:`inference_images`)."""
    return inference_images(model, pipeline, [image])[0]
