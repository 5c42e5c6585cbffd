from .counted_as_class_iou_metric import CountedAsClassIoUMetric
from .dota_scenes import (load_scene_labels, merge_patch_predictions,
                          parse_patch_name, write_task1_submission)
from .full_scene_dota_metric import FullSceneDOTAMetric
from .multi_dataset_dota_metric import MultiDatasetDOTAMetric
from .multi_dataset_metrics import MultiDatasetEvaluator

__all__ = [
    'CountedAsClassIoUMetric', 'FullSceneDOTAMetric', 'MultiDatasetDOTAMetric',
    'MultiDatasetEvaluator', 'load_scene_labels', 'merge_patch_predictions',
    'parse_patch_name', 'write_task1_submission'
]
