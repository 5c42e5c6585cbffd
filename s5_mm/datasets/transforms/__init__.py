from . import semi_transforms  # noqa: F401
from .load_annotations_checked import LoadAnnotationsChecked
from .set_dataset_name import SetDatasetName
from .strong_views import (AlbuColorJitter, BoxGaussianBlur,
                           FastRandomGrayscale)

__all__ = ['LoadAnnotationsChecked', 'SetDatasetName', 'AlbuColorJitter',
           'BoxGaussianBlur', 'FastRandomGrayscale']
