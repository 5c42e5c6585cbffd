from . import counted_as_class_iou_metric  # noqa: F401
from . import multi_dataset_metrics  # noqa: F401
from . import multi_dataset_dota_metric  # noqa: F401
from .dota_scenes import (load_scene_labels, merge_patch_predictions,
                          parse_patch_name, write_task1_submission)
from .full_scene_dota_metric import FullSceneDOTAMetric

__all__ = [
    'FullSceneDOTAMetric', 'load_scene_labels', 'merge_patch_predictions',
    'parse_patch_name', 'write_task1_submission'
]
