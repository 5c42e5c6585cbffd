from .compat import allow_mmengine_checkpoints, check_versions

# imported lazily: ``import s5_mm`` runs the version guard in compat before
# anything imports mmengine
_CHECKPOINT_API = ('CheckpointMismatchError', 'LoadReport',
                   'load_checkpoint_strict', 'load_state_dict_strict')

__all__ = ['allow_mmengine_checkpoints', 'check_versions', *_CHECKPOINT_API]


def __getattr__(name: str):
    if name in _CHECKPOINT_API:
        from . import checkpoint
        return getattr(checkpoint, name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
