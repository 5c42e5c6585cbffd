"""A test hook: after training, every rank saves the class statistics of its
``FixMatchSegmentor`` (the ``class_stats.*`` buffers), for the DDP test
(each rank its own file: only rank 0 writes checkpoints and logs)."""
import os.path as osp

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS


@HOOKS.register_module()
class ClassStatsDumpHook(Hook):
    """Write ``<work_dir>/class_stats_rank<r>.pt`` after training."""

    def after_train(self, runner) -> None:
        model = runner.model
        if is_model_wrapper(model):
            model = model.module
        state = {k: v.clone() for k, v in
                 model.class_stats.state_dict().items()}
        torch.save(state, osp.join(runner.work_dir,
                                   f'class_stats_rank{get_rank()}.pt'))
