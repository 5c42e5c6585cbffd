from . import transforms  # noqa: F401
from .dota import StrictDOTAv2Dataset
from .openearthmap import OpenEarthMapDataset
from .transforms import LoadAnnotationsChecked, LoadIgnoreMask, SetDatasetName
from .unlabeled_dataset import UnlabeledImageDataset

__all__ = [
    'LoadAnnotationsChecked', 'LoadIgnoreMask', 'OpenEarthMapDataset',
    'SetDatasetName', 'StrictDOTAv2Dataset', 'UnlabeledImageDataset'
]
