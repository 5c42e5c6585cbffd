"""Model heads vs dataset class counts.

A head belongs to the dataset whose name (``SetDatasetName``) is one of the
parts of its module path or config key when the model has
``dataset_names`` (``decode_heads.loveda``, ``branches.dior.roi_head...``);
any other head serves every labeled dataset. Used at runner start by
:class:`~s5_mm.engine.hooks.DatasetClassCheckHook` (built model and
datasets) and by ``tools/analysis_tools/check_dataset.py`` (configs only).
"""
from typing import Any, Iterator, List, NamedTuple, Optional, Sequence

from mmdet.models.dense_heads import RPNHead
from mmdet.models.dense_heads.base_dense_head import BaseDenseHead
from mmdet.models.roi_heads.bbox_heads import BBoxHead
from mmengine.model import is_model_wrapper
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from torch import nn

from s5_mm.datasets.checks.seg_labels import Problem
from s5_mm.datasets.dataset_lookup import (built_pipeline,
                                          pipeline_dataset_name,
                                          walk_built_datasets)


class HeadClasses(NamedTuple):
    """``num_classes`` of one head; ``dataset`` None = every dataset."""
    key: str
    num_classes: int
    dataset: Optional[str]


class DatasetClasses(NamedTuple):
    """What a dataset declares: its name (None if its pipeline has no
    ``SetDatasetName``), where it is, its classes (None if unlabeled) and the
    ``num_classes`` its pipeline's ``LoadAnnotationsChecked`` checks against
    (None if it has none)."""
    name: Optional[str]
    where: str
    classes: Optional[Sequence[str]]
    pipeline_num_classes: Optional[int] = None


def _dataset_of(key: str, dataset_names: Optional[Sequence[str]]
                ) -> Optional[str]:
    parts = key.replace('[', '.').replace(']', '').split('.')
    return next((p for p in parts if p in (dataset_names or ())), None)


def _is_head(module: nn.Module) -> bool:
    return isinstance(module, (BaseDecodeHead, BBoxHead)) or (
        isinstance(module, BaseDenseHead) and not isinstance(module, RPNHead))


def model_heads(model: nn.Module,
                dataset_names: Optional[Sequence[str]] = None
                ) -> List[HeadClasses]:
    """Heads of a built model (decode heads, bbox heads, dense heads other
    than RPN) with their ``num_classes``.

    Args:
        model (nn.Module): the model (or its DDP wrapper).
        dataset_names (Sequence[str], optional): names a head's module path
            is matched against; default: the model's ``dataset_names``.
    """
    if is_model_wrapper(model):
        model = model.module
    names = dataset_names or getattr(model, 'dataset_names', None)
    return [
        HeadClasses(key, int(m.num_classes), _dataset_of(key, names))
        for key, m in model.named_modules()
        if _is_head(m) and isinstance(getattr(m, 'num_classes', None), int)
    ]


def config_heads(model_cfg: Any,
                 dataset_names: Optional[Sequence[str]] = None,
                 key: str = 'model') -> List[HeadClasses]:
    """Every ``num_classes`` in a model config, keyed by the config key of
    the head holding it (``model.decode_heads.loveda``). A list
    ``num_classes`` beside a ``dataset_names`` list gives one per dataset
    and overrides the heads below it (``MultiDatasetTwoStageDetector``).

    Args:
        model_cfg: the ``model`` config.
        dataset_names (Sequence[str], optional): names a key is matched
            against, besides the config's own ``dataset_names``.
        key (str): the config key of ``model_cfg``.
    """

    def walk(node: Any, path: str, names: Optional[Sequence[str]]
             ) -> Iterator[HeadClasses]:
        if isinstance(node, dict):
            own = list(node.get('dataset_names') or [])
            names = own + list(names or [])
            per_dataset = node.get('num_classes')
            if isinstance(per_dataset, (list, tuple)) and own:
                # one count per dataset; it overrides the heads' own
                for i, (n, name) in enumerate(zip(per_dataset, own)):
                    yield HeadClasses(f'{path}.num_classes[{i}]', int(n),
                                      name)
                return
            for k, v in node.items():
                sub = f'{path}.{k}'
                if k == 'rpn_head':  # class-agnostic proposals
                    continue
                if k == 'num_classes' and isinstance(v, int):
                    yield HeadClasses(path, v, _dataset_of(path, names))
                else:
                    yield from walk(v, sub, names)
        elif isinstance(node, (list, tuple)):
            for i, v in enumerate(node):
                yield from walk(v, f'{path}[{i}]', names)

    return list(walk(model_cfg, key, dataset_names))


def class_count_problems(heads: Sequence[HeadClasses],
                         datasets: Sequence[DatasetClasses],
                         model_datasets: Optional[Sequence[str]] = None
                         ) -> List[Problem]:
    """Every mismatch between heads and labeled datasets.

    Args:
        heads: from :func:`model_heads` or :func:`config_heads`.
        datasets: the datasets to check (unlabeled ones are skipped).
        model_datasets: the model's ``dataset_names``, if it routes by
            dataset; a labeled dataset named otherwise has no head.
    """
    problems = []
    for ds in datasets:
        if not ds.classes:
            continue
        n = len(ds.classes)
        label = f"dataset '{ds.name}' ({ds.where})" if ds.name else \
            f'dataset {ds.where}'
        if ds.pipeline_num_classes is not None and \
                ds.pipeline_num_classes != n:
            problems.append(Problem(
                'num_classes',
                f'{label} has {n} classes but its LoadAnnotationsChecked has '
                f'num_classes={ds.pipeline_num_classes}: set num_classes={n}'))
        if model_datasets and ds.name not in model_datasets:
            problems.append(Problem(
                'num_classes',
                f'{label} has no head: the model has heads for '
                f'{list(model_datasets)} (name it with SetDatasetName)'))
            continue
        for head in heads:
            if head.dataset not in (None, ds.name) or head.num_classes == n:
                continue
            problems.append(Problem(
                'num_classes',
                f'model head {head.key} has num_classes={head.num_classes} '
                f'but {label} has {n} classes {tuple(ds.classes)}: set '
                f'num_classes={n} for that head in the model config'))
    return problems


def pipeline_num_classes(transforms: Sequence) -> Optional[int]:
    """``num_classes`` of the pipeline's ``LoadAnnotationsChecked`` (built
    transforms or configs), None if there is none."""
    for t in transforms:
        if isinstance(t, dict):
            if str(t.get('type', '')).split('.')[-1] == \
                    'LoadAnnotationsChecked':
                return t.get('num_classes')
        elif type(t).__name__ == 'LoadAnnotationsChecked':
            return t.num_classes
    return None


def built_dataset_classes(dataset: Any, where: str) -> List[DatasetClasses]:
    """:class:`DatasetClasses` of every leaf of a built dataset (walked by
    :func:`~s5_mm.datasets.dataset_lookup.walk_built_datasets`)."""
    leaves = []
    for leaf_where, leaf in walk_built_datasets(dataset, where):
        transforms = built_pipeline(leaf)
        metainfo = getattr(leaf, 'metainfo', {}) or {}
        root = getattr(leaf, 'data_root', '')
        leaves.append(DatasetClasses(
            pipeline_dataset_name(transforms),
            f'{type(leaf).__name__}, data_root={root!r}, {leaf_where}',
            metainfo.get('classes'), pipeline_num_classes(transforms)))
    return leaves
