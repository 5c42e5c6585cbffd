from . import entropy_diversity_selector_hook  # noqa: F401
from . import fixmatch_visualization_hook  # noqa: F401
from . import ema_teacher_hook  # noqa: F401
from . import dataset_class_check_hook  # noqa: F401
from .rng_state_hook import RNGStateHook
from .strict_load_hook import StrictLoadHook

__all__ = ['RNGStateHook', 'StrictLoadHook']
