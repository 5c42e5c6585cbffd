"""EMA teacher update with UniMatch V2's warm-up schedule."""
from typing import Optional

from mmdet.engine.hooks import MeanTeacherHook
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner
from mmseg.registry import HOOKS


@HOOKS.register_module()
class EMATeacherHook(MeanTeacherHook):
    """mmdet's ``MeanTeacherHook`` with UniMatch V2's momentum schedule.

    After training iteration ``i`` (0-based) the teacher becomes
    ``ratio * teacher + (1 - ratio) * student`` with
    ``ratio = min(1 - 1 / (i + 1), max_ratio)``: the teacher copies the
    student at the first step and averages ever more slowly up to
    ``max_ratio``. In mmdet's convention the momentum is ``1 - ratio``.

    Args:
        max_ratio (float): Upper bound of the EMA ratio. Defaults to 0.996.
        interval (int): Update every ``interval`` iterations. Defaults to 1.
        skip_buffer (bool): If True, only parameters are averaged and the
            teacher keeps its own buffers (BN statistics). Defaults to False:
            float buffers are averaged too, as in UniMatch V2.
    """

    def __init__(self,
                 max_ratio: float = 0.996,
                 interval: int = 1,
                 skip_buffer: bool = False) -> None:
        if not 0 < max_ratio < 1:
            raise ValueError(
                'EMATeacherHook: max_ratio must be in (0, 1), got '
                f'{max_ratio}')
        super().__init__(
            momentum=1 - max_ratio, interval=interval, skip_buffer=skip_buffer)
        self.max_ratio = max_ratio

    def before_train(self, runner: Runner) -> None:
        """Check that the model has an EMA teacher, then let mmdet copy the
        student into it at iteration 0."""
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        if getattr(model, 'teacher_mode', 'ema') != 'ema' or not hasattr(
                model, 'teacher'):
            raise ValueError(
                f'EMATeacherHook needs a model with an EMA teacher, but '
                f'{type(model).__name__} has none: set model.semi_train_cfg.'
                "teacher='ema', or remove EMATeacherHook from custom_hooks")
        super().before_train(runner)

    def momentum_at(self, iteration: int) -> float:
        """mmdet-style momentum (``1 - ratio``) after 0-based ``iteration``."""
        return 1 - min(1 - 1 / (iteration + 1), self.max_ratio)

    def after_train_iter(self,
                         runner: Runner,
                         batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        """Update the teacher with this iteration's momentum."""
        self.momentum = self.momentum_at(runner.iter)
        super().after_train_iter(runner, batch_idx, data_batch, outputs)
