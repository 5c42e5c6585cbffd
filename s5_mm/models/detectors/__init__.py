from . import multi_dataset_two_stage  # noqa: F401
