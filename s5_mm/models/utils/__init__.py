from .rotated_nms import classwise_rotated_nms
from .routing import (DATASET_KEY, dataset_ids_from_names, get_dataset_ids,
                      get_dataset_names)

__all__ = [
    'classwise_rotated_nms',
    'DATASET_KEY', 'dataset_ids_from_names', 'get_dataset_ids',
    'get_dataset_names'
]
