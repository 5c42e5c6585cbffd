"""Find a dataset of a config by its name, and its metainfo.

A dataset is named by the ``SetDatasetName`` at the end of its pipeline (see
``s5_mm/datasets/transforms/set_dataset_name.py``). Multi-dataset configs
nest datasets in ``ConcatDataset`` (``datasets=[...]``) and wrappers such as
``RepeatDataset`` (``dataset=...``); one rule walks both configs
(:func:`walk_dataset_cfgs`) and built datasets (:func:`walk_built_datasets`):
descend into ``datasets``, else into ``dataset``, else it is a leaf. The
demo, the multi-dataset loops, the class-count hook and
``tools/model_converters/export_dense.py`` all use these functions.
"""
import copy
from typing import Any, Iterator, List, Optional, Sequence, Tuple

from mmengine.config import Config

from .transforms.set_dataset_name import SetDatasetName

_SET_NAME_TYPES = ('SetDatasetName', 'mmseg.SetDatasetName',
                   'mmdet.SetDatasetName')


def pipeline_dataset_name(pipeline: Sequence) -> Optional[str]:
    """The name set by a ``SetDatasetName`` in a pipeline.

    Args:
        pipeline (Sequence): built transforms or their config dicts; the
            views of a ``TestTimeAug`` (``--tta``) are searched too.

    Returns:
        str, optional: the name, None if the pipeline has no
        ``SetDatasetName``.
    """
    for transform in pipeline or []:
        if isinstance(transform, SetDatasetName):
            return transform.name
        if isinstance(transform, dict):
            if transform.get('type') in _SET_NAME_TYPES:
                return transform['name']
            inner = transform.get('transforms')  # TestTimeAug config
        else:  # built TestTimeAug: one Compose per view
            inner = [getattr(c, 'transforms', c)
                     for c in getattr(transform, 'subroutines', [])]
        if isinstance(inner, (list, tuple)):
            flat = [t for step in inner for t in (
                step if isinstance(step, (list, tuple)) else [step])]
            name = pipeline_dataset_name(flat)
            if name is not None:
                return name
    return None


def walk_dataset_cfgs(dataset_cfg: dict, where: str = 'dataset'
                      ) -> Iterator[Tuple[str, Optional[str], dict]]:
    """Every leaf dataset config inside ``ConcatDataset`` / wrapper configs,
    with where it sits.

    Args:
        dataset_cfg (dict): a dataset config, possibly nested.
        where (str): the config key of ``dataset_cfg``.

    Yields:
        tuple: ``(key, name, leaf config)``; ``key`` is e.g.
        ``'dataset.datasets[1]'``; ``name`` is the leaf's ``SetDatasetName``
        or, failing that, the nearest wrapper's, else None.
    """

    def walk(cfg: dict, key: str, inherited: Optional[str]):
        name = pipeline_dataset_name(cfg.get('pipeline')) or inherited
        if isinstance(cfg.get('datasets'), (list, tuple)):
            for i, sub in enumerate(cfg['datasets']):
                yield from walk(sub, f'{key}.datasets[{i}]', name)
        elif isinstance(cfg.get('dataset'), dict):
            yield from walk(cfg['dataset'], f'{key}.dataset', name)
        else:
            yield key, name, cfg

    yield from walk(dataset_cfg, where, None)


def walk_built_datasets(dataset: Any, where: str = 'dataset'
                        ) -> Iterator[Tuple[str, Any]]:
    """Every leaf of a built dataset (``ConcatDataset.datasets``, wrappers'
    ``dataset``), with where it sits; the same rule as
    :func:`walk_dataset_cfgs`.

    Args:
        dataset: a built dataset, possibly nested.
        where (str): how ``dataset`` is called in messages.

    Yields:
        tuple: ``(where, leaf)``, e.g. ``('dataset.datasets[1]', leaf)``.
    """
    parts = getattr(dataset, 'datasets', None)
    inner = getattr(dataset, 'dataset', None)
    if isinstance(parts, (list, tuple)):
        for i, sub in enumerate(parts):
            yield from walk_built_datasets(sub, f'{where}.datasets[{i}]')
    elif inner is not None and not hasattr(dataset, 'pipeline'):
        yield from walk_built_datasets(inner, f'{where}.dataset')
    else:
        yield where, dataset


def built_pipeline(dataset: Any) -> list:
    """The transforms of a built dataset's pipeline ([] if it has none)."""
    return list(getattr(getattr(dataset, 'pipeline', None), 'transforms',
                        None) or [])


def dataset_name_of(dataset: Any, where: str = 'dataset') -> str:
    """The name (``SetDatasetName``) of a built dataset; all leaves of a
    nested one must carry the same name.

    Raises:
        ValueError: a leaf has no ``SetDatasetName`` (naming it, its type
            and ``data_root``), or the leaves carry different names.
    """
    names = set()
    for leaf_where, leaf in walk_built_datasets(dataset, where):
        name = pipeline_dataset_name(built_pipeline(leaf))
        if name is None:
            root = getattr(leaf, 'data_root', '')
            raise ValueError(
                f'{leaf_where} ({type(leaf).__name__}, data_root={root!r}) '
                "has no SetDatasetName in its pipeline: add dict(type="
                "'SetDatasetName', name=...) at the end of it, so its samples "
                'can be routed')
        names.add(name)
    if len(names) != 1:
        raise ValueError(f'the parts of {where} are named {sorted(names)} by '
                         'their SetDatasetName: use one name')
    return names.pop()


def iter_dataset_cfgs(dataset_cfg: dict) -> Iterator[Tuple[Optional[str],
                                                           dict]]:
    """``(name, leaf config)`` of every leaf dataset config (see
    :func:`walk_dataset_cfgs`)."""
    return ((name, leaf) for _, name, leaf in walk_dataset_cfgs(dataset_cfg))


def dataset_names(dataset_cfg: dict) -> List[str]:
    """Names of the datasets in a (nested) dataset config, in order, once
    each."""
    names = (name for name, _ in iter_dataset_cfgs(dataset_cfg))
    return list(dict.fromkeys(n for n in names if n is not None))


def find_dataset_cfg(dataset_cfg: dict,
                     name: Optional[str] = None,
                     where: str = 'the dataset config') -> dict:
    """The leaf config of dataset ``name`` in a (nested) dataset config.

    Args:
        dataset_cfg (dict): a dataset config (``ConcatDataset``, wrapper or
            a single dataset).
        name (str, optional): the dataset's ``SetDatasetName``; may be None
            when the config holds one dataset only.
        where (str): how error messages call ``dataset_cfg``.

    Returns:
        dict: the first leaf dataset config of that name.

    Raises:
        ValueError: no dataset of that name, or ``name`` is None and there
            are several datasets.
    """
    leaves = list(iter_dataset_cfgs(dataset_cfg))
    names = dataset_names(dataset_cfg)
    if name is None and len(names) > 1:
        raise ValueError(f'{where} has datasets {names}: choose one with '
                         '--dataset NAME')
    for leaf_name, leaf in leaves:
        if name is None or leaf_name == name:
            return leaf
    raise ValueError(
        f"unknown dataset '{name}': {where} has datasets {sorted(names)} "
        '(names set by SetDatasetName in their pipelines)')


def find_dataset(cfg: Config,
                 name: Optional[str] = None,
                 split: str = 'test') -> dict:
    """The ``<split>_dataloader`` dataset config of dataset ``name``.

    Args:
        cfg (Config): a full config.
        name (str, optional): dataset name, None for a one-dataset config.
        split (str): 'test', 'val' or 'train'.

    Returns:
        dict: that dataset's leaf config (``type``, ``pipeline``, ...).
    """
    loader = cfg.get(f'{split}_dataloader')
    if not loader or 'dataset' not in loader:
        raise KeyError(f'the config has no {split}_dataloader.dataset to take '
                       'the dataset (and its pipeline) from')
    return find_dataset_cfg(loader['dataset'], name,
                            where=f"the config's {split}_dataloader")


def dataset_metainfo(dataset_cfg: dict, scope: str = 'mmseg') -> dict:
    """Metainfo of a dataset config without reading any data.

    Args:
        dataset_cfg (dict): a leaf dataset config.
        scope (str): registry scope to look the dataset type up in
            (the config's ``default_scope``).

    Returns:
        dict: the class's ``METAINFO`` updated by the config's ``metainfo``
        (``classes``, ``palette``, ...).
    """
    from mmengine.registry import DATASETS
    with DATASETS.switch_scope_and_registry(scope) as registry:
        cls = registry.get(dataset_cfg['type'])
    if cls is None:
        raise KeyError(f"dataset type '{dataset_cfg['type']}' is not "
                       f"registered in scope '{scope}' (import s5_mm and the "
                       'library that defines it first)')
    meta = copy.deepcopy(dict(getattr(cls, 'METAINFO', {})))
    meta.update(dataset_cfg.get('metainfo') or {})
    return meta
