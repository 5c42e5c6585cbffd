from .perturbations import (channel_dropout, complementary_channel_dropout,
                            cutmix, cutmix_boxes, seeded_generator)
from .rotated_nms import classwise_rotated_nms
from .routing import (DATASET_KEY, dataset_ids_from_names, get_dataset_ids,
                      get_dataset_names)

__all__ = [
    'DATASET_KEY', 'channel_dropout', 'classwise_rotated_nms',
    'complementary_channel_dropout', 'cutmix', 'cutmix_boxes',
    'dataset_ids_from_names', 'get_dataset_ids', 'get_dataset_names',
    'seeded_generator'
]
