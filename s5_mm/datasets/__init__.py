from . import transforms  # noqa: F401
from .dior import StrictDIORDataset
from .dota import StrictDOTAv2Dataset
from .openearthmap import OpenEarthMapDataset
from .s5_openearthmap import S5OpenEarthMapDataset
from .transforms import (AlbuColorJitter, BoxGaussianBlur,
                         FastRandomGrayscale, LoadAnnotationsChecked,
                         LoadIgnoreMask, LoadImageChecked, SetDatasetName)
from .unlabeled_dataset import UnlabeledImageDataset

__all__ = [
    'AlbuColorJitter', 'BoxGaussianBlur', 'FastRandomGrayscale',
    'LoadAnnotationsChecked', 'LoadIgnoreMask', 'LoadImageChecked',
    'OpenEarthMapDataset', 'S5OpenEarthMapDataset', 'SetDatasetName',
    'StrictDIORDataset', 'StrictDOTAv2Dataset', 'UnlabeledImageDataset'
]
