"""Routing of samples to per-dataset experts and heads.

Every sample carries the name of the dataset it comes from in its data
sample's metainfo (key ``dataset_name``), set by the :class:`SetDatasetName`
transform in that dataset's pipeline. Models map the name to an integer id
by its position in their own ``dataset_names`` (the order in the config).
"""
from typing import Optional, Sequence

import torch

DATASET_KEY = 'dataset_name'


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
