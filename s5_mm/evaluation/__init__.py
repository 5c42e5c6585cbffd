from . import multi_dataset_metrics  # noqa: F401
from . import multi_dataset_dota_metric  # noqa: F401
