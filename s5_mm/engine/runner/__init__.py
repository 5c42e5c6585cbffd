from .multi_dataset_loops import (MultiDatasetTestLoop, MultiDatasetValLoop,
                                  dataset_name_of, find_dataset_cfg,
                                  pipeline_dataset_name)

__all__ = [
    'MultiDatasetTestLoop', 'MultiDatasetValLoop', 'dataset_name_of',
    'find_dataset_cfg', 'pipeline_dataset_name'
]
