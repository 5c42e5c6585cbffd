"""Find every dataset of a config: through ``ConcatDataset`` (mmengine's,
mmdet's), dataset wrappers (``RepeatDataset``, ...), multi-dataset and
semi-supervised (labeled + unlabeled) configs."""
import copy
from typing import Dict, List, NamedTuple, Optional, Sequence

from mmengine.config import Config
from mmengine.dataset import BaseDataset
from mmengine.registry import DATASETS, init_default_scope

from s5_mm.datasets.dataset_lookup import (pipeline_dataset_name,
                                          walk_dataset_cfgs)

SPLITS = ('train', 'val', 'test')


class DatasetSpec(NamedTuple):
    """One dataset of a config.

    ``name`` is its ``SetDatasetName`` name, else its type; ``key`` is unique
    within the config (``'train/loveda'``, ``'train/dior#2'``); ``kind`` is
    ``'seg'`` (label maps), ``'dota'`` (labelTxt), ``'dior'`` (XML) or
    ``'images'`` (unlabeled)."""
    name: str
    key: str
    split: str
    where: str
    cfg: dict
    cls: type
    kind: str


def dataset_kind(cls: type) -> str:
    """Which checks apply to a dataset class."""
    from mmrotate.datasets import DIORDataset, DOTADataset
    from mmseg.datasets import BaseSegDataset
    if issubclass(cls, BaseSegDataset):
        return 'seg'
    if issubclass(cls, DOTADataset):
        return 'dota'
    if issubclass(cls, DIORDataset):
        return 'dior'
    if issubclass(cls, BaseDataset):
        return 'images'
    raise TypeError(f'{cls.__name__} is not an mmengine BaseDataset: '
                    'check_dataset does not know how to read it')


def find_datasets(cfg: Config,
                  splits: Optional[Sequence[str]] = None) -> List[DatasetSpec]:
    """Every leaf dataset of the given splits (default: all three; a split
    whose datasets equal an earlier split's, e.g. ``test = val``, is not
    repeated)."""
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    specs: List[DatasetSpec] = []
    seen: List[dict] = []
    taken: Dict[str, int] = {}
    for split in splits or SPLITS:
        loader = cfg.get(f'{split}_dataloader')
        if not loader or not loader.get('dataset'):
            if splits:
                raise KeyError(f'the config has no {split}_dataloader.dataset')
            continue
        top = loader['dataset'].to_dict() if hasattr(
            loader['dataset'], 'to_dict') else dict(loader['dataset'])
        if top in seen:
            continue
        seen.append(top)
        for where, _, leaf in walk_dataset_cfgs(top,
                                                f'{split}_dataloader.dataset'):
            with DATASETS.switch_scope_and_registry(None) as registry:
                cls = registry.get(leaf.get('type', ''))
            if cls is None:
                raise KeyError(f'{where}: unknown dataset type '
                               f'{leaf.get("type")!r}')
            name = pipeline_dataset_name(leaf.get('pipeline') or []) or \
                cls.__name__
            key = f'{split}/{name}'
            taken[key] = taken.get(key, 0) + 1
            if taken[key] > 1:
                key = f'{key}#{taken[key]}'
            specs.append(DatasetSpec(name, key, split, where,
                                     copy.deepcopy(leaf), cls,
                                     dataset_kind(cls)))
    return specs


def select(specs: Sequence[DatasetSpec], name: str) -> List[DatasetSpec]:
    """The datasets called ``name``, with an error listing the known names.
    """
    chosen = [s for s in specs if name in (s.name, s.key)]
    if not chosen:
        known = sorted({s.name for s in specs})
        raise KeyError(f'no dataset named {name!r} in the config; its '
                       f'datasets are {known} (SetDatasetName names, else '
                       'dataset types)')
    return chosen
