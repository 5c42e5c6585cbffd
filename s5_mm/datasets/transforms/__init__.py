from . import semi_transforms  # noqa: F401
from .load_checked_annotations import LoadCheckedAnnotations
from .set_dataset_name import SetDatasetName

__all__ = ['LoadCheckedAnnotations', 'SetDatasetName']
