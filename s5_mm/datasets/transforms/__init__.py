from . import semi_transforms  # noqa: F401
from .set_dataset_name import SetDatasetName

__all__ = ['SetDatasetName']
