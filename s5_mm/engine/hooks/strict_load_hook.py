"""Make the runner's checkpoint loading (``load_from``, ``tools/test.py``,
``resume``) refuse checkpoints that do not fit the model."""
from typing import Optional

from mmengine.hooks import Hook
from mmengine.runner import Runner, find_latest_checkpoint
# the root registry: found from mmseg, mmdet and mmrotate scopes alike
from mmengine.registry import HOOKS

from s5_mm.utils.checkpoint import load_state_dict_strict, state_dict_of


@HOOKS.register_module()
class StrictLoadHook(Hook):
    """Raise :class:`~s5_mm.utils.checkpoint.CheckpointMismatchError` when a
    checkpoint the runner loads has missing or unexpected keys or weights of
    another shape, instead of mmengine's warnings.

    mmengine's ``Runner.load_checkpoint`` calls ``after_load_checkpoint``
    with the checkpoint before it loads it non-strictly; this hook loads it
    with :func:`~s5_mm.utils.checkpoint.load_state_dict_strict` first, so a
    mismatch stops the run before any step. Model pre-hooks (MoEViT's
    dense-to-MoE mapping, FixMatch's plain-to-student/teacher mapping) run
    as in the normal load.

    Add it with ``default_hooks = dict(strict_load=dict(
    type='StrictLoadHook'))`` (``configs/_base_/default_hooks.py`` does;
    ``tools/train.py`` and ``tools/test.py`` add it to any config).

    Args:
        allow_partial (bool, optional): Only warn about what does not fit.
            None (default) reads the config key ``allow_partial_load``
            (False when absent).
    """

    priority = 'VERY_HIGH'

    def __init__(self, allow_partial: Optional[bool] = None) -> None:
        self.allow_partial = allow_partial

    def after_load_checkpoint(self, runner: Runner, checkpoint: dict) -> None:
        """Load ``checkpoint`` into the model strictly (or warn)."""
        allow = self.allow_partial
        if allow is None:
            allow = bool(runner.cfg.get('allow_partial_load', False))
        source = runner.cfg.get('load_from') or find_latest_checkpoint(
            runner.work_dir) or 'the loaded checkpoint'
        load_state_dict_strict(runner.model, state_dict_of(checkpoint),
                               source=source, allow_partial=allow,
                               logger=runner.logger)
