from .hooks import (DatasetClassCheckHook, EMATeacherHook,
                    EntropyDiversitySelectorHook, FixMatchVisualizationHook,
                    IterationRecorderHook, RNGStateHook, StrictLoadHook)
from .optimizers import LayerDecayOptimWrapperConstructor
from .runner import MultiDatasetTestLoop, MultiDatasetValLoop

__all__ = [
    'DatasetClassCheckHook', 'EMATeacherHook', 'EntropyDiversitySelectorHook',
    'FixMatchVisualizationHook', 'IterationRecorderHook',
    'LayerDecayOptimWrapperConstructor',
    'MultiDatasetTestLoop', 'MultiDatasetValLoop', 'RNGStateHook',
    'StrictLoadHook'
]
