from .dataset_seg_branch import DatasetSegBranch
from .fixmatch_segmentor import FixMatchSegmentor
from .multi_dataset_encoder_decoder import MultiDatasetEncoderDecoder
from .multi_dataset_seg_tta_model import MultiDatasetSegTTAModel
from .semi_base_segmentor import SemiBaseSegmentor

__all__ = [
    'DatasetSegBranch', 'FixMatchSegmentor', 'MultiDatasetEncoderDecoder',
    'MultiDatasetSegTTAModel', 'SemiBaseSegmentor'
]
