"""s5_mm: S5 (arXiv 2508.12409) as an OpenMMLab 2.x extension.

``import s5_mm`` checks the installed OpenMMLab stack, makes torch's safe
checkpoint loader accept mmengine checkpoints, and registers every s5_mm
component into the mmseg / mmdet / mmrotate registries.
"""
from .utils.compat import allow_mmengine_checkpoints, check_versions
from .version import __version__

check_versions()
allow_mmengine_checkpoints()

from . import datasets, engine, evaluation, models, selection  # noqa: E402,F401

__all__ = ['__version__']
