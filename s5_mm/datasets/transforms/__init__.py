from .contiguous_arrays import ContiguousArrays
from .fast_pack_seg_inputs import FastPackSegInputs
from .load_annotations_checked import LoadAnnotationsChecked
from .load_image_checked import LoadImageChecked
from .semi_transforms import LoadIgnoreMask
from .set_dataset_name import SetDatasetName
from .shared_multi_branch import SharedMultiBranch
from .strong_views import (AlbuColorJitter, BoxGaussianBlur,
                           FastRandomGrayscale)

__all__ = [
    'AlbuColorJitter', 'BoxGaussianBlur', 'ContiguousArrays',
    'FastPackSegInputs', 'FastRandomGrayscale', 'LoadAnnotationsChecked',
    'LoadIgnoreMask', 'LoadImageChecked', 'SetDatasetName', 'SharedMultiBranch'
]
