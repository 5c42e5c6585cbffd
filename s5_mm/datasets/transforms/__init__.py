from .load_annotations_checked import LoadAnnotationsChecked
from .load_image_checked import LoadImageChecked
from .semi_transforms import LoadIgnoreMask
from .set_dataset_name import SetDatasetName

__all__ = [
    'LoadAnnotationsChecked', 'LoadIgnoreMask', 'LoadImageChecked',
    'SetDatasetName'
]
