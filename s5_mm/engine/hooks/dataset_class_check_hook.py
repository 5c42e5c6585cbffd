"""Stop before the first iteration if a head does not fit its dataset."""
from typing import List, Tuple

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS
from mmengine.runner import BaseLoop, Runner

from s5_mm.datasets.checks.class_counts import (built_dataset_classes,
                                                class_count_problems,
                                                model_heads)


@HOOKS.register_module()  # both tasks: mmengine's root (docs/registry.md)
class DatasetClassCheckHook(Hook):
    """Check every head's ``num_classes`` against its dataset's classes.

    Like mmdet's ``NumClassCheckHook``, for multi-dataset models too: a head
    belongs to the dataset named in its module path
    (``decode_heads.loveda``, ``branches.dior.roi_head.bbox_head``) when the
    model has ``dataset_names``, else it must fit every labeled dataset.
    It also checks the ``num_classes`` of each pipeline's
    ``LoadAnnotationsChecked``. Runs before training (train and, if built,
    val datasets), before validation and before testing, so a wrong head
    stops the run before its first iteration, with an error naming the
    head, its ``num_classes`` and the dataset. With the checks of
    ``LoadAnnotationsChecked`` (every label, at load time) and the offline
    ``tools/analysis_tools/check_dataset.py`` (same rule,
    :func:`~s5_mm.datasets.checks.class_counts.class_count_problems`), this
    is the one place heads are checked against datasets. Enabled in every
    shipped config as ``default_hooks.dataset_check`` (set in
    ``configs/_base_/default_hooks.py`` and the configs that define their
    own ``default_hooks``). A config that deletes the key
    (``cfg.default_hooks.pop('dataset_check')``; mmengine refuses ``None``
    for a hook it does not define itself) runs without it, except with
    :class:`~s5_mm.engine.runner.MultiDatasetValLoop` /
    ``MultiDatasetTestLoop``, which require it.
    """

    priority = 'VERY_HIGH'

    def _check(self, runner: Runner, loops: List[Tuple[str, BaseLoop]]
               ) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        datasets = [
            leaf for split, loop in loops if loop is not None
            for leaf in built_dataset_classes(loop.dataloader.dataset,
                                              f'{split}_dataloader.dataset')
        ]
        routed = getattr(model, 'dataset_names', None)
        heads = model_heads(
            model, routed or [d.name for d in datasets if d.name])
        problems = class_count_problems(heads, datasets, routed)
        if problems:
            raise ValueError('the model does not fit its datasets:\n' +
                             '\n'.join(p.message for p in problems))

    def before_train(self, runner: Runner) -> None:
        """Check the training set and the already built validation set."""
        self._check(runner, [('train', runner.train_loop),
                             ('val', runner.val_loop)])

    def before_val(self, runner: Runner) -> None:
        """Check the validation set."""
        self._check(runner, [('val', runner.val_loop)])

    def before_test(self, runner: Runner) -> None:
        """Check the test set."""
        self._check(runner, [('test', runner.test_loop)])
