from .multi_dataset_dota_metric import MultiDatasetDOTAMetric
from .multi_dataset_metrics import MultiDatasetEvaluator

__all__ = ['MultiDatasetDOTAMetric', 'MultiDatasetEvaluator']
