from . import utils  # noqa: F401
from .backbones import MoEViT
from .decode_heads import FinalResizeUPerHead
from .detectors import MultiDatasetTwoStageDetector
from .necks import Feature2PyramidLN
from .roi_heads import ExtendedRotatedRoIExtractor
from .segmentors import (FixMatchSegmentor, MultiDatasetEncoderDecoder,
                         MultiDatasetSegTTAModel)

__all__ = [
    'ExtendedRotatedRoIExtractor', 'Feature2PyramidLN', 'FinalResizeUPerHead',
    'FixMatchSegmentor', 'MoEViT', 'MultiDatasetEncoderDecoder',
    'MultiDatasetSegTTAModel', 'MultiDatasetTwoStageDetector'
]
