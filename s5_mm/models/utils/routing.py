"""Routing between datasets: the rules both multi-dataset models share.

- Every sample names its dataset in its metainfo (``dataset_name``, set by
  :class:`SetDatasetName`); a model maps the name to its position in its own
  ``dataset_names``. A name is a non-empty str without ``.`` or ``/``.
- The backbone runs once on a mixed batch; :func:`group_by_dataset` gives
  every dataset the indices and data samples of its own samples.
- The parameters only an absent dataset uses (its heads and the MoE experts
  ``...experts.<id>...``) enter the loss with weight 0
  (:func:`absent_dataset_loss`), so DDP needs no ``find_unused_parameters``.
- Loss keys are ``{dataset}/{head loss key}`` like the per-dataset metrics
  (``vaihingen/decode.loss_ce``, ``dior/loss_cls``, ``dior/loss_absent``).
- Whether every dataset has a head with its class count is not checked
  here: :class:`~s5_mm.engine.hooks.DatasetClassCheckHook` checks it when
  the runner starts (rule in :mod:`s5_mm.datasets.checks.class_counts`),
  ``LoadAnnotationsChecked`` every label when it is loaded.
"""
import re
from typing import (Dict, Iterable, Iterator, List, NamedTuple, Optional,
                    Sequence, Union)

import torch
from torch import Tensor, nn

DATASET_KEY = 'dataset_name'
ABSENT_LOSS = 'loss_absent'


def check_dataset_names(names: Sequence[str],
                        key: str = 'dataset_names') -> List[str]:
    """The names (in id order) as a list; ``key`` names them in errors."""
    if isinstance(names, str) or not names or not all(
            isinstance(n, str) and n for n in names):
        raise ValueError(f'{key} must be a non-empty list of non-empty '
                         f'strings, got {names!r}')
    names = list(names)
    if len(set(names)) != len(names):
        raise ValueError(f'{key} has duplicates: {names}')
    bad = [n for n in names if '.' in n or '/' in n]
    if bad:
        raise ValueError(f'dataset names {bad} in {key} contain "." or "/", '
                         'which cannot be module or loss-prefix names: '
                         'rename them in the model config and in '
                         'SetDatasetName')
    return names


def is_routed(backbone: nn.Module) -> bool:
    """Whether a backbone takes dataset ids (it has ``dataset_names``)."""
    return getattr(backbone, 'dataset_names', None) is not None


def extract_routed_feat(model: nn.Module, inputs: Tensor,
                        dataset_ids: Union[Tensor, int, None]) -> tuple:
    """``model``'s backbone features (given ``dataset_ids`` if it is routed)
    after its neck, if it has one."""
    if is_routed(model.backbone):
        x = model.backbone(inputs, dataset_ids)
    else:
        x = model.backbone(inputs)
    return tuple(model.neck(x)) if model.with_neck else tuple(x)


def get_dataset_names(data_samples: Sequence) -> list:
    """The ``dataset_name`` of every data sample, with a clear error if absent."""
    names = []
    for i, sample in enumerate(data_samples):
        name = sample.metainfo.get(DATASET_KEY)
        if name is None:
            path = sample.metainfo.get('img_path', '<unknown image>')
            raise KeyError(
                f"data sample {i} ({path}) has no '{DATASET_KEY}' in its "
                "metainfo: add dict(type='SetDatasetName', name=...) to the end "
                "of that dataset's pipeline (after the Pack*Inputs transform).")
        names.append(name)
    return names


def dataset_ids_from_names(names: Sequence[str],
                           dataset_names: Sequence[str],
                           device: Optional[torch.device] = None
                           ) -> torch.Tensor:
    """Map dataset names to ids (positions in ``dataset_names``)."""
    index = {n: i for i, n in enumerate(dataset_names)}
    ids = []
    for name in names:
        if name not in index:
            raise ValueError(
                f"unknown dataset '{name}': this model knows "
                f'{list(dataset_names)} (check `dataset_names` in the model '
                "config and the `name` of SetDatasetName in the data pipeline)")
        ids.append(index[name])
    return torch.as_tensor(ids, dtype=torch.long, device=device)


def get_dataset_ids(data_samples: Sequence,
                    dataset_names: Sequence[str],
                    device: Optional[torch.device] = None) -> torch.Tensor:
    """LongTensor (B,) of dataset ids for a batch of data samples."""
    return dataset_ids_from_names(
        get_dataset_names(data_samples), dataset_names, device=device)


class DatasetGroup(NamedTuple):
    """One dataset's samples in a batch (``index`` None when absent)."""
    id: int
    name: str
    index: Optional[Tensor]
    samples: Optional[list]

    @property
    def present(self) -> bool:
        return self.index is not None


def group_by_dataset(ids: Tensor, dataset_names: Sequence[str],
                     data_samples: Optional[Sequence] = None
                     ) -> Iterator[DatasetGroup]:
    """A :class:`DatasetGroup` (batch-order indices and data samples) per
    dataset of the model, in id order, for samples of dataset ids ``ids``."""
    for k, name in enumerate(dataset_names):
        index = (ids == k).nonzero(as_tuple=True)[0]
        if index.numel() == 0:
            yield DatasetGroup(k, name, None, None)
            continue
        samples = None if data_samples is None else [
            data_samples[i] for i in index.tolist()
        ]
        yield DatasetGroup(k, name, index, samples)


def select(batch: Union[Tensor, Sequence[Tensor]],
           index: Tensor) -> Union[Tensor, tuple]:
    """Rows ``index`` of a tensor, or of every tensor of a feature tuple."""
    if isinstance(batch, Tensor):
        return batch[index]
    return tuple(x[index] for x in batch)


def prefix_losses(losses: Dict[str, Tensor], name: str) -> Dict[str, Tensor]:
    """``{name}/{key}`` for every key of a dataset's head losses."""
    return {f'{name}/{key}': value for key, value in losses.items()}


def expert_parameters(backbone: nn.Module,
                      dataset_id: int) -> Iterator[nn.Parameter]:
    """Parameters ``...experts.<id>....`` of a backbone (none if plain)."""
    pattern = re.compile(rf'(^|\.)experts\.{dataset_id}\.')
    for pname, param in backbone.named_parameters():
        if pattern.search(pname):
            yield param


def absent_dataset_loss(group: DatasetGroup, heads: Iterable[nn.Module],
                        backbone: nn.Module) -> Dict[str, Tensor]:
    """``{'<name>/loss_absent': 0 * sum of the parameters}`` of the heads
    only this absent dataset uses and of its experts in ``backbone``."""
    params = [p for head in heads for p in head.parameters()]
    params += list(expert_parameters(backbone, group.id))
    zero = sum(p.sum() for p in params if p.requires_grad) * 0.
    return {f'{group.name}/{ABSENT_LOSS}': zero}
