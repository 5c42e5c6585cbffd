"""Dataset checks shared by the load-time transform, the class-count hook
and ``tools/analysis_tools/check_dataset.py``."""
from .rotated_labels import dior_label_problems, dota_label_problems
from .seg_labels import Problem, seg_label_problems

__all__ = [
    'Problem', 'seg_label_problems', 'dota_label_problems',
    'dior_label_problems'
]
