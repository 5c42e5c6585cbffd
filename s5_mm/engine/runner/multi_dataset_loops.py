"""Validation / test loops that evaluate each dataset of a multi-dataset
model on its own (own dataloader, own evaluator, own visualizer palette)."""
import logging
from typing import Dict, Union

from mmengine.logging import print_log
from mmengine.registry import LOOPS
from mmengine.runner import BaseLoop, TestLoop, ValLoop
from mmengine.runner.loops import _parse_losses
from torch.utils.data import DataLoader

from s5_mm.datasets.dataset_lookup import (dataset_name_of,  # noqa: F401
                                          find_dataset_cfg,
                                          pipeline_dataset_name)
from s5_mm.engine.hooks.dataset_class_check_hook import DatasetClassCheckHook
from s5_mm.evaluation.multi_dataset_metrics import MultiDatasetEvaluator


class _PerDatasetLoopMixin:
    """Shared set-up and run of the multi-dataset val and test loops."""

    _mode: str = 'val'

    def __init__(self, runner, dataloader: Dict,
                 evaluator: Union[MultiDatasetEvaluator, Dict],
                 fp16: bool = False) -> None:
        if not isinstance(dataloader, dict):
            raise TypeError(
                f'{type(self).__name__} needs the {self._mode}_dataloader as '
                'a config dict (it builds one dataloader per dataset)')
        if not any(isinstance(hook, DatasetClassCheckHook)
                   for hook in runner.hooks):
            raise ValueError(
                f'{type(self).__name__} needs the DatasetClassCheckHook, '
                'which checks every head against its dataset before each '
                f'{self._mode} run: add default_hooks.dataset_check = '
                "dict(type='DatasetClassCheckHook') to the config (every "
                'shipped config has it, from configs/_base_/default_hooks.py)'
            )
        BaseLoop.__init__(self, runner, dataloader)
        if isinstance(evaluator, (dict, list)):
            evaluator = runner.build_evaluator(evaluator)
        if not isinstance(evaluator, MultiDatasetEvaluator):
            raise TypeError(
                f'{type(self).__name__} needs {self._mode}_evaluator = '
                "dict(type='MultiDatasetEvaluator', metrics={name: ...}), got "
                f'{type(evaluator).__name__}')
        self.evaluator = evaluator
        self.fp16 = fp16
        setattr(self, f'{self._mode}_loss', dict())  # val_loss / test_loss
        dataset = self.dataloader.dataset
        datasets = getattr(dataset, 'datasets', [dataset])  # ConcatDataset
        loader_cfg = {k: v for k, v in dataloader.items() if k != 'dataset'}
        diff_rank_seed = runner._randomness_cfg.get('diff_rank_seed', False)
        self.dataloaders: Dict[str, DataLoader] = {}
        for i, sub in enumerate(datasets):
            name = dataset_name_of(sub, f'{self._mode} dataset {i}')
            if name in self.dataloaders:
                raise ValueError(f'two {self._mode} datasets are named '
                                 f"'{name}' by their SetDatasetName")
            if name not in evaluator.evaluators:
                raise KeyError(
                    f"{self._mode} dataset '{name}' has no metrics in the "
                    f'{self._mode}_evaluator (it has '
                    f'{evaluator.dataset_names})')
            evaluator.set_dataset_meta(name, sub.metainfo)
            self.dataloaders[name] = runner.build_dataloader(
                dict(loader_cfg, dataset=sub),
                seed=runner.seed,
                diff_rank_seed=diff_rank_seed)
        missing = set(evaluator.dataset_names) - set(self.dataloaders)
        if missing:
            raise KeyError(f'{self._mode}_evaluator has metrics for '
                           f'{sorted(missing)} but there is no such dataset '
                           f'in the {self._mode}_dataloader')

    def _build_train_loop_if_drawing(self) -> None:
        """mmseg 1.2.2's ``SegVisualizationHook`` reads ``runner.iter`` when
        it draws, which builds a not yet built train loop, whose ``__init__``
        sets the visualizer's ``dataset_meta`` to the TRAINING set's (a list
        for a multi-dataset ConcatDataset). Build it first, so the
        per-dataset metainfo set by this loop is the one drawn with."""
        if isinstance(self.runner._train_loop, dict) and any(
                getattr(hook, 'draw', False) for hook in self.runner.hooks):
            self.runner.train_loop  # noqa: B018 (builds it)

    def run(self) -> dict:
        """Run every dataset, then evaluate each and their mean."""
        mode = self._mode
        self._build_train_loop_if_drawing()
        self.runner.call_hook(f'before_{mode}')
        self.runner.call_hook(f'before_{mode}_epoch')
        self.runner.model.eval()
        losses = getattr(self, f'{mode}_loss')
        losses.clear()
        idx = 0
        for name, loader in self.dataloaders.items():
            self.runner.visualizer.dataset_meta = loader.dataset.metainfo
            print_log(f'{mode}: {name} ({len(loader.dataset)} images)',
                      logger='current', level=logging.INFO)
            for data_batch in loader:
                self.run_iter(idx, data_batch)
                idx += 1
        metrics = self.evaluator.evaluate_datasets(
            {name: len(dl.dataset) for name, dl in self.dataloaders.items()})
        if losses:
            metrics.update(_parse_losses(losses, mode))
        self.runner.call_hook(f'after_{mode}_epoch', metrics=metrics)
        self.runner.call_hook(f'after_{mode}')
        return metrics


@LOOPS.register_module()
class MultiDatasetValLoop(_PerDatasetLoopMixin, ValLoop):
    """Validation of a multi-dataset model, dataset by dataset.

    The ``val_dataloader`` config holds a ``ConcatDataset`` of the datasets
    (each with ``SetDatasetName`` at the end of its pipeline, which names
    it); the loop builds one dataloader per dataset with the remaining
    dataloader settings, so each dataset keeps its own test pipeline and
    sample count (DDP padding is dropped per dataset). ``val_evaluator``
    must be a :class:`~s5_mm.evaluation.MultiDatasetEvaluator`; metrics are
    ``{dataset}/{metric}`` plus their mean. Each head is checked against
    its dataset by :class:`~s5_mm.engine.hooks.DatasetClassCheckHook`
    (``before_val`` / ``before_test``), which the loop requires.

    Args:
        runner (Runner): The runner.
        dataloader (dict): Dataloader config whose dataset is a
            ConcatDataset.
        evaluator (dict | MultiDatasetEvaluator): The evaluator.
        fp16 (bool): Autocast the forward. Defaults to False.
    """

    _mode = 'val'


@LOOPS.register_module()
class MultiDatasetTestLoop(_PerDatasetLoopMixin, TestLoop):
    """Test of a multi-dataset model, dataset by dataset (see
    :class:`MultiDatasetValLoop`)."""

    _mode = 'test'
