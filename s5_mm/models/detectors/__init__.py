from .multi_dataset_two_stage import (DatasetBranch,
                                      MultiDatasetTwoStageDetector)

__all__ = ['DatasetBranch', 'MultiDatasetTwoStageDetector']
