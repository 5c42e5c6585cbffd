"""A test hook: every rank records the image paths of the labeled (``sup``)
and unlabeled (``unsup_teacher``) samples of each training batch and saves
them after training, for the DDP test (each rank its own file)."""
import json
import os.path as osp

from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

BRANCHES = ('sup', 'unsup_teacher')


@HOOKS.register_module()
class SamplePathsDumpHook(Hook):
    """Write ``<work_dir>/sample_paths_rank<r>.json``: per branch, one list
    of image paths per iteration."""

    def before_train(self, runner) -> None:
        self.paths = {b: [] for b in BRANCHES}

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        for branch in BRANCHES:
            self.paths[branch].append([
                s.img_path for s in data_batch['data_samples'][branch]
                if s is not None
            ])

    def after_train(self, runner) -> None:
        path = osp.join(runner.work_dir, f'sample_paths_rank{get_rank()}.json')
        with open(path, 'w') as f:
            json.dump(self.paths, f)
