from . import utils  # noqa: F401
from .backbones import MoEViT
from .detectors import MultiDatasetTwoStageDetector
from .necks import Feature2PyramidLN
from .segmentors import (FixMatchSegmentor, MultiDatasetEncoderDecoder,
                         MultiDatasetSegTTAModel)

__all__ = [
    'Feature2PyramidLN', 'FixMatchSegmentor', 'MoEViT',
    'MultiDatasetEncoderDecoder', 'MultiDatasetSegTTAModel',
    'MultiDatasetTwoStageDetector'
]
