from .routing import (DATASET_KEY, dataset_ids_from_names, get_dataset_ids,
                      get_dataset_names)

__all__ = [
    'DATASET_KEY', 'dataset_ids_from_names', 'get_dataset_ids',
    'get_dataset_names'
]
