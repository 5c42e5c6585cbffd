from .compat import allow_mmengine_checkpoints, check_versions

__all__ = ['allow_mmengine_checkpoints', 'check_versions']
