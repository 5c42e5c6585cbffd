from . import multi_dataset_metrics  # noqa: F401
