from .dataset_class_check_hook import DatasetClassCheckHook
from .ema_teacher_hook import EMATeacherHook
from .entropy_diversity_selector_hook import EntropyDiversitySelectorHook
from .fixmatch_visualization_hook import FixMatchVisualizationHook
from .iteration_recorder_hook import IterationRecorderHook
from .rng_state_hook import RNGStateHook
from .strict_load_hook import StrictLoadHook

__all__ = [
    'DatasetClassCheckHook', 'EMATeacherHook', 'EntropyDiversitySelectorHook',
    'FixMatchVisualizationHook', 'IterationRecorderHook', 'RNGStateHook',
    'StrictLoadHook'
]
