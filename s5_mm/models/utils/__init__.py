from .perturbations import (channel_dropout, complementary_channel_dropout,
                            cutmix, cutmix_boxes, seeded_generator)
from .rotated_nms import classwise_rotated_nms
from .routing import (DATASET_KEY, dataset_ids_from_names, get_dataset_ids,
                      get_dataset_names)

__all__ = [
    'channel_dropout', 'complementary_channel_dropout', 'cutmix',
    'cutmix_boxes', 'seeded_generator',
    'classwise_rotated_nms',
    'DATASET_KEY', 'dataset_ids_from_names', 'get_dataset_ids',
    'get_dataset_names'
]
