from . import multi_dataset_encoder_decoder  # noqa: F401
from . import multi_dataset_seg_tta_model  # noqa: F401
from .fixmatch_segmentor import FixMatchSegmentor
from .semi_base_segmentor import SemiBaseSegmentor

__all__ = ['FixMatchSegmentor', 'SemiBaseSegmentor']
