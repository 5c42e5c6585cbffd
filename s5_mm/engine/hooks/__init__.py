from . import entropy_diversity_selector_hook  # noqa: F401
from . import dataset_class_check_hook  # noqa: F401
from .ema_teacher_hook import EMATeacherHook
from .fixmatch_visualization_hook import FixMatchVisualizationHook
from .rng_state_hook import RNGStateHook
from .strict_load_hook import StrictLoadHook

__all__ = [
    'EMATeacherHook', 'FixMatchVisualizationHook', 'RNGStateHook',
    'StrictLoadHook'
]
