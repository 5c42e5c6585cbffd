"""Run the entropy + diversity data selector inside a training run."""
import os.path as osp
from typing import List, Optional

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS

from s5_mm.selection.pipeline import run_selection
from s5_mm.selection.scoring import build_scoring_pipeline
from s5_mm.selection.settings import SelectionSettings
from s5_mm.selection.split_file import list_pool


@HOOKS.register_module()
class EntropyDiversitySelectorHook(Hook):
    """Select unlabeled images with the model being trained (S5 stage 1).

    Scores the unlabeled pool and the labeled images with the current model,
    clusters the labeled features with faiss K-Means, assigns the pool to
    the nearest centroids and fills per-cluster quotas with the
    lowest-entropy images (`S5 <https://arxiv.org/abs/2508.12409>`_). It
    calls the same function as ``tools/select_data.py all``
    (:func:`s5_mm.selection.pipeline.run_selection`), so for the same
    weights it writes the same files.

    Outputs go to ``work_dir/<out_dir>/iter_<k>/`` (layout in
    :mod:`s5_mm.selection.layout`); the split file is also copied to
    ``split_file`` if given, where an ``UnlabeledImageDataset`` (its
    ``ann_file``) reads it when it is next built (e.g. the S4P stage).
    Scoring is sharded over the ranks of a distributed run and resumable.

    Args:
        pool_root (str): Unlabeled pool folder.
        labeled_root (str): Labeled image folder (features for K-Means).
        budget (int): Number of images N to select.
        num_clusters (int): K-Means clusters M.
        pool_list (str, optional): List file of pool images (relative to
            ``pool_root``); default: every image under it.
        labeled_list (str, optional): Same for the labeled images.
        split_file (str, optional): Extra copy of the written split file.
        interval (int): Also select every ``interval`` training iterations;
            0 = only after training. Defaults to 0.
        after_training (bool): Select once training ends. Defaults to True.
        model_attr (str, optional): Submodule of the model that is the mmseg
            segmentor to score with (e.g. ``'student'`` of a semi-supervised
            wrapper); None = the model itself.
        pipeline (list[dict], optional): Scoring pipeline; default: the
            config's test pipeline without annotation loading.
        out_dir (str): Folder under ``runner.work_dir``. Defaults to
            ``'selection'``.
        settings (dict, optional): Other fields of
            :class:`s5_mm.selection.settings.SelectionSettings` (the tool's
            flags: ``quota_mode``, ``shard_size``, ``batch_size``,
            ``num_workers``, ``feature_module``, ``niter``, ``seed``...);
            their defaults are the tool's.
    """

    priority = 'LOW'

    def __init__(self,
                 pool_root: str,
                 labeled_root: str,
                 budget: int,
                 num_clusters: int,
                 pool_list: Optional[str] = None,
                 labeled_list: Optional[str] = None,
                 split_file: Optional[str] = None,
                 interval: int = 0,
                 after_training: bool = True,
                 model_attr: Optional[str] = None,
                 pipeline: Optional[List[dict]] = None,
                 out_dir: str = 'selection',
                 settings: Optional[dict] = None) -> None:
        if interval < 0:
            raise ValueError(f'interval must be >= 0, got {interval}')
        if not interval and not after_training:
            raise ValueError('EntropyDiversitySelectorHook would never run: '
                             'set interval > 0 or after_training=True')
        twice = sorted({'budget', 'num_clusters'} & set(settings or {}))
        if twice:
            raise KeyError(f'EntropyDiversitySelectorHook: {twice} given both '
                           'as arguments and in settings=dict(...); set them '
                           'once, as the hook\'s arguments')
        self.pool_root, self.pool_list = pool_root, pool_list
        self.labeled_root, self.labeled_list = labeled_root, labeled_list
        self.settings = SelectionSettings.from_dict(
            dict(settings or {}, budget=budget, num_clusters=num_clusters),
            'EntropyDiversitySelectorHook')
        self.split_file = split_file
        self.interval, self.after_training = interval, after_training
        self.model_attr, self.pipeline = model_attr, pipeline
        self.out_dir = out_dir
        self._last_iter: Optional[int] = None

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        if self.interval and self.every_n_train_iters(runner, self.interval):
            # runner.iter counts from 0 here: iteration runner.iter + 1 ended
            self.select(runner, runner.iter + 1)

    def after_train(self, runner) -> None:
        if self.after_training:
            self.select(runner, runner.iter)

    def _segmentor(self, runner):
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        if self.model_attr is not None:
            if not hasattr(model, self.model_attr):
                raise AttributeError(
                    'EntropyDiversitySelectorHook: '
                    f'{type(model).__name__} has no attribute '
                    f'{self.model_attr!r}; set model_attr to the submodule '
                    'that is the mmseg segmentor')
            model = getattr(model, self.model_attr)
        return model

    def select(self, runner, iteration: int) -> Optional[dict]:
        """Run the selector with the weights after ``iteration`` training
        iterations (once per iteration)."""
        if self._last_iter == iteration:
            return None
        self._last_iter = iteration
        work_dir = osp.join(runner.work_dir, self.out_dir,
                            f'iter_{iteration}')
        runner.logger.info(f'EntropyDiversitySelectorHook: selecting '
                           f'{self.settings.budget} images from {self.pool_root} '
                           f'-> {work_dir}')
        pools = dict(
            unlabeled=(self.pool_root,
                       list_pool(self.pool_root, self.pool_list)),
            labeled=(self.labeled_root,
                     list_pool(self.labeled_root, self.labeled_list)))
        return run_selection(
            self._segmentor(runner),
            build_scoring_pipeline(runner.cfg, self.pipeline), work_dir,
            pools, self.settings, self.split_file, dict(iter=iteration))
