"""Routing of samples to per-dataset experts and heads.

The one place where S5's multi-dataset models
(:class:`~s5_mm.models.segmentors.MultiDatasetEncoderDecoder` and
:class:`~s5_mm.models.detectors.MultiDatasetTwoStageDetector`) agree on:

- **Names.** Every sample carries the name of the dataset it comes from in
  its data sample's metainfo (key ``dataset_name``), set by the
  :class:`SetDatasetName` transform in that dataset's pipeline. A name is a
  non-empty str without ``.`` or ``/`` (it is a module name and a loss
  prefix); models map it to an integer id by its position in their own
  ``dataset_names`` (the order in the config).
- **Groups.** The backbone runs once on a mixed batch; every dataset then
  gets the indices and data samples of its own samples
  (:func:`group_by_dataset`).
- **Absent datasets.** The parameters only one dataset uses (its heads and,
  in an MoE backbone, the experts named ``...experts.<id>...``) enter the
  loss with weight 0 when the dataset has no sample in the batch, so DDP
  runs without ``find_unused_parameters`` (like mmpretrain's
  ``MultiTaskHead``).
- **Loss keys.** ``{dataset}/{head loss key}``, the scheme of the
  per-dataset metrics (``{dataset}/{metric}``): ``vaihingen/decode.loss_ce``,
  ``dior/loss_rpn_cls``; an absent dataset logs ``{dataset}/loss_absent``
  (always 0). Losses are not stored in checkpoints.
- **Errors.** A dataset a model has no head for, or whose class count differs
  from its head's, is a ``ValueError`` naming the dataset and the config key
  to fix.
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
    """Check the dataset names of a model and return them as a list.

    Args:
        names (Sequence[str]): Dataset names, in dataset-id order.
        key (str): Where the names come from, for the error message.

    Returns:
        list[str]: The names.
    """
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
    """The samples of one dataset in a batch.

    ``index`` and ``samples`` are None when the dataset is absent.
    """
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
    """One :class:`DatasetGroup` per dataset of the model, in id order.

    Args:
        ids (Tensor): Dataset id of every sample, shape (B,).
        dataset_names (Sequence[str]): The model's dataset names.
        data_samples (Sequence, optional): The batch's data samples.

    Yields:
        DatasetGroup: Indices (batch order) and data samples of each dataset.
    """
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
    """The MoE experts of dataset ``dataset_id`` in a backbone (parameters
    named ``...experts.<id>....``; none in a plain backbone)."""
    pattern = re.compile(rf'(^|\.)experts\.{dataset_id}\.')
    for pname, param in backbone.named_parameters():
        if pattern.search(pname):
            yield param


def absent_dataset_loss(group: DatasetGroup, heads: Iterable[nn.Module],
                        backbone: nn.Module) -> Dict[str, Tensor]:
    """The zero-weighted term of a dataset absent from a batch.

    Args:
        group (DatasetGroup): The absent dataset.
        heads (Iterable[nn.Module]): The modules only this dataset uses.
        backbone (nn.Module): The shared backbone (for its experts).

    Returns:
        dict[str, Tensor]: ``{'{name}/loss_absent': 0 * sum of parameters}``.
    """
    params = [p for head in heads for p in head.parameters()]
    params += list(expert_parameters(backbone, group.id))
    zero = sum(p.sum() for p in params if p.requires_grad) * 0.
    return {f'{group.name}/{ABSENT_LOSS}': zero}


def check_dataset_meta(name: str, metainfo: Optional[dict],
                       num_classes: Dict[str, int], head_key: str) -> None:
    """Raise ``ValueError`` if a model has no head for dataset ``name`` or
    the dataset's class count (``metainfo['classes']``) is not its head's.

    Args:
        name (str): Dataset name (from its ``SetDatasetName``).
        metainfo (dict, optional): The dataset's metainfo.
        num_classes (dict[str, int]): Class count of every dataset's head.
        head_key (str): The config key that sets the class count of dataset
            ``name``'s head, for the error message.
    """
    if name not in num_classes:
        raise ValueError(
            f"dataset '{name}' has no head in this model; it has heads for "
            f'{list(num_classes)} (dataset names in the model config)')
    classes = (metainfo or {}).get('classes')
    if classes is not None and len(classes) != num_classes[name]:
        raise ValueError(
            f"dataset '{name}' has {len(classes)} classes {tuple(classes)} "
            f'but its head predicts {num_classes[name]}: set '
            f'num_classes={len(classes)} in {head_key}')
