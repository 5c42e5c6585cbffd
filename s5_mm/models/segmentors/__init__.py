from . import fixmatch_segmentor  # noqa: F401
from . import multi_dataset_encoder_decoder  # noqa: F401
from . import multi_dataset_seg_tta_model  # noqa: F401
