"""Per-dataset metrics for multi-dataset models (segmentation or detection).
"""
import os.path as osp
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Sequence, Union

from mmengine.evaluator import Evaluator
from mmengine.registry import EVALUATOR

from s5_mm.models.utils.routing import DATASET_KEY

MetricCfg = Union[dict, Sequence[dict]]


@EVALUATOR.register_module()
class MultiDatasetEvaluator(Evaluator):
    """One evaluator per dataset, metrics prefixed by the dataset name.

    Every prediction goes to the evaluator of its dataset (``dataset_name``
    in its metainfo). :class:`~s5_mm.engine.runner.MultiDatasetValLoop` /
    ``MultiDatasetTestLoop`` evaluate every dataset with its own size
    (correct under DDP padding).

    Example (S5 segmentation)::

        val_evaluator = dict(
            type='MultiDatasetEvaluator',
            metrics=dict(
                vaihingen=dict(type='IoUMetric', iou_metrics=['mIoU']),
                potsdam=dict(type='IoUMetric', iou_metrics=['mFscore'])),
            mean_of=dict(vaihingen='mIoU', potsdam='mFscore'))

    gives ``vaihingen/mIoU``, ``potsdam/mFscore``, ... and
    ``mean = (vaihingen/mIoU + potsdam/mFscore) / 2``; any of them can be the
    ``save_best`` key of the ``CheckpointHook`` (give ``rule='greater'`` for
    ``mean``).

    Args:
        metrics (dict[str, dict | list[dict]]): Metric config(s) of each
            dataset, keyed by the dataset name set by ``SetDatasetName``.
        mean_of (dict[str, str], optional): For each dataset, the key of its
            metric that enters the mean (e.g. ``'mIoU'``). Defaults to None
            (no mean).
        mean_key (str): Name of the mean in the results. Defaults to 'mean'.
        **metric_kwargs: Set in every metric config, ``output_dir`` as
            ``output_dir/<dataset>`` (what ``tools/test.py --out`` sets).
    """

    def __init__(self,
                 metrics: Dict[str, MetricCfg],
                 mean_of: Optional[Dict[str, str]] = None,
                 mean_key: str = 'mean',
                 **metric_kwargs) -> None:
        if not isinstance(metrics, dict) or not metrics:
            raise TypeError(
                'MultiDatasetEvaluator: metrics must be a non-empty dict '
                '{dataset name: metric config(s)}, got '
                f'{type(metrics).__name__}')
        self.evaluators: Dict[str, Evaluator] = OrderedDict(
            (name, Evaluator(_with_kwargs(cfg, name, metric_kwargs)))
            for name, cfg in metrics.items())
        super().__init__(
            [m for ev in self.evaluators.values() for m in ev.metrics])
        self.mean_of = dict(mean_of or {})
        unknown = set(self.mean_of) - set(self.evaluators)
        if unknown:
            raise KeyError(
                f'MultiDatasetEvaluator: mean_of names datasets '
                f'{sorted(unknown)} that have no metrics; metrics has '
                f'{list(self.evaluators)}')
        self.mean_key = mean_key

    @property
    def dataset_names(self) -> List[str]:
        """The datasets, in config order."""
        return list(self.evaluators)

    def set_dataset_meta(self, name: str, dataset_meta: dict) -> None:
        """Give the metrics of dataset ``name`` its metainfo (classes...)."""
        self.evaluators[name].dataset_meta = dataset_meta

    def process(self,
                data_samples: Sequence,
                data_batch: Optional[Any] = None) -> None:
        """Pass every sample to the evaluator of its dataset."""
        samples = [
            s.to_dict() if hasattr(s, 'to_dict') else s for s in data_samples
        ]
        names = [s.get(DATASET_KEY) for s in samples]
        if None in names:
            sample = samples[names.index(None)]
            raise KeyError(
                f"a prediction ({sample.get('img_path', '<unknown image>')}) "
                f"has no '{DATASET_KEY}' in its metainfo: add "
                "dict(type='SetDatasetName', name=...) to the end of its "
                "dataset's test pipeline")
        for name in dict.fromkeys(names):
            if name not in self.evaluators:
                raise KeyError(
                    f"prediction of dataset '{name}' but the evaluator has "
                    f'metrics only for {self.dataset_names}: add '
                    f'metrics[{name!r}] to the val/test evaluator config')
            index = [i for i, n in enumerate(names) if n == name]
            batch = _select(data_batch, index, len(names))
            for metric in self.evaluators[name].metrics:
                metric.process(batch, [samples[i] for i in index])

    def evaluate_datasets(self, sizes: Dict[str, int]) -> dict:
        """Compute every dataset's metrics and their mean.

        Args:
            sizes (dict[str, int]): Number of samples of each dataset (the
                ``size`` argument of ``Evaluator.evaluate``).

        Returns:
            dict: ``{dataset}/{metric}`` values and ``mean_key``.
        """
        results: Dict[str, Any] = OrderedDict()
        for name, evaluator in self.evaluators.items():
            if name not in sizes:
                raise KeyError(f"no validation data for dataset '{name}' "
                               'that has metrics in the evaluator')
            for key, value in evaluator.evaluate(sizes[name]).items():
                results[f'{name}/{key}'] = value
        if self.mean_of:
            values = []
            for name, key in self.mean_of.items():
                full = f'{name}/{key}'
                if full not in results:
                    reported = [k for k in results if k.startswith(name + '/')]
                    raise KeyError(
                        f"mean_of[{name!r}] = {key!r}, but dataset '{name}' "
                        f'reported only {reported}')
                values.append(float(results[full]))
            results[self.mean_key] = sum(values) / len(values)
        return results

    def evaluate(self, size: int) -> dict:
        raise RuntimeError(
            'MultiDatasetEvaluator needs the size of every dataset: use '
            "val_cfg = dict(type='MultiDatasetValLoop') and test_cfg = "
            "dict(type='MultiDatasetTestLoop') with it")


def _with_kwargs(cfg: MetricCfg, name: str, kwargs: dict) -> MetricCfg:
    """Metric config(s) of dataset ``name`` with ``kwargs`` set."""
    if not kwargs:
        return cfg
    kwargs = dict(kwargs)
    if kwargs.get('output_dir'):
        kwargs['output_dir'] = osp.join(kwargs['output_dir'], name)
    if isinstance(cfg, dict):
        return dict(cfg, **kwargs)
    return [dict(c, **kwargs) for c in cfg]


def _select(data_batch: Any, index: List[int], batch_size: int) -> Any:
    """The samples ``index`` of a collated batch (lists of length B)."""
    if isinstance(data_batch, dict):
        return {
            k: ([v[i] for i in index] if isinstance(v, (list, tuple))
                and len(v) == batch_size else v)
            for k, v in data_batch.items()
        }
    return data_batch
