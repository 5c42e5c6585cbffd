from .hooks import (DatasetClassCheckHook, EMATeacherHook,
                    EntropyDiversitySelectorHook, FixMatchVisualizationHook,
                    RNGStateHook, StrictLoadHook)
from .optimizers import LayerDecayOptimWrapperConstructor
from .runner import MultiDatasetTestLoop, MultiDatasetValLoop

__all__ = [
    'DatasetClassCheckHook', 'EMATeacherHook', 'EntropyDiversitySelectorHook',
    'FixMatchVisualizationHook', 'LayerDecayOptimWrapperConstructor',
    'MultiDatasetTestLoop', 'MultiDatasetValLoop', 'RNGStateHook',
    'StrictLoadHook'
]
