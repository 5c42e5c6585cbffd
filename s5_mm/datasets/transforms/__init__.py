from .load_annotations_checked import LoadAnnotationsChecked
from .load_image_checked import LoadImageChecked
from .semi_transforms import LoadIgnoreMask
from .set_dataset_name import SetDatasetName
from .strong_views import (AlbuColorJitter, BoxGaussianBlur,
                           FastRandomGrayscale)

__all__ = [
    'AlbuColorJitter', 'BoxGaussianBlur', 'FastRandomGrayscale',
    'LoadAnnotationsChecked', 'LoadIgnoreMask', 'LoadImageChecked',
    'SetDatasetName'
]
