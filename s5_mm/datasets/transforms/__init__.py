from . import semi_transforms  # noqa: F401
from .load_annotations_checked import LoadAnnotationsChecked
from .load_image_checked import LoadImageChecked
from .set_dataset_name import SetDatasetName

__all__ = ['LoadAnnotationsChecked', 'LoadImageChecked', 'SetDatasetName']
