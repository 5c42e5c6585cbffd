"""mmrotate's DOTA mAP computed per dataset for multi-dataset detection."""
import contextlib
import copy
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Union

from mmengine.evaluator import BaseMetric
from mmrotate.registry import METRICS

from s5_mm.models.utils.routing import DATASET_KEY
from .in_process_tpfp import in_process_tpfp


@METRICS.register_module()
class MultiDatasetDOTAMetric(BaseMetric):
    """One mmrotate metric (e.g. ``DOTAMetric``) per dataset, results
    prefixed with the dataset name (``dior/mAP``, ``dota/mAP``, ...).

    Every prediction is routed by its data sample's
    ``metainfo['dataset_name']`` (set by ``SetDatasetName``), so the
    evaluation datasets may come in any order or mixed in a batch. Each
    dataset's metric needs that dataset's classes: the evaluator's
    ``dataset_meta`` is either a list with one metainfo per dataset (mmdet's
    ``ConcatDataset`` of datasets with different classes, in the order of
    ``dataset_names``) or one metainfo shared by all.

    Args:
        dataset_names (Sequence[str]): names of the evaluated datasets.
        metric (dict): config of the metric run for every dataset (its own
            ``prefix`` is ignored; an ``outfile_prefix`` gets ``_<name>``
            appended so datasets do not overwrite each other's files).
            Defaults to ``DOTAMetric`` with mAP.
        dataset_metrics (dict, optional): dataset name -> the config of
            the metric run for that dataset instead of ``metric`` (taken
            as it is: no ``_<name>`` suffix), e.g.
            ``dict(dota=dict(type='FullSceneDOTAMetric', ...))`` to score
            DOTA-v2 on merged full scenes as well (``dota/mAP_full_scene``).
        in_process (bool): compute the TP / FP of the mAP in this process
            (:mod:`s5_mm.evaluation.in_process_tpfp`): the same numbers
            without spawning mmrotate's pool of 4 processes at every
            evaluation. False uses the pool (very large validation sets).
            Defaults to True.
        collect_device (str): 'cpu' or 'gpu'. Defaults to 'cpu'.
    """

    default_prefix: Optional[str] = None

    def __init__(self,
                 dataset_names: Sequence[str],
                 metric: Optional[dict] = None,
                 dataset_metrics: Optional[Dict[str, dict]] = None,
                 in_process: bool = True,
                 collect_device: str = 'cpu') -> None:
        super().__init__(collect_device=collect_device, prefix=None)
        if not dataset_names:
            raise ValueError('MultiDatasetDOTAMetric needs dataset_names')
        self.dataset_names = list(dataset_names)
        self.in_process = in_process
        metric = dict(type='DOTAMetric', metric='mAP') if metric is None \
            else dict(metric)  # deep-copied per dataset below
        metric.pop('prefix', None)
        dataset_metrics = dict(dataset_metrics or {})
        unknown = sorted(set(dataset_metrics) - set(self.dataset_names))
        if unknown:
            raise ValueError(
                f'dataset_metrics names datasets {unknown} that are not in '
                f'dataset_names {self.dataset_names}')
        self.metrics: Dict[str, BaseMetric] = OrderedDict()
        for name in self.dataset_names:
            if name in dataset_metrics:
                cfg = copy.deepcopy(dict(dataset_metrics[name]))
                cfg.pop('prefix', None)
            else:
                cfg = copy.deepcopy(metric)
                if cfg.get('outfile_prefix'):
                    cfg['outfile_prefix'] = f"{cfg['outfile_prefix']}_{name}"
            self.metrics[name] = METRICS.build(cfg)

    @property
    def dataset_meta(self) -> Optional[Union[dict, List[dict]]]:
        return self._dataset_meta

    @dataset_meta.setter
    def dataset_meta(self, meta: Union[dict, List[dict], None]) -> None:
        self._dataset_meta = meta
        if meta is None:
            return
        if isinstance(meta, dict):
            metas = [meta] * len(self.dataset_names)
        else:
            metas = list(meta)
            if len(metas) != len(self.dataset_names):
                raise ValueError(
                    f'the evaluation data has {len(metas)} datasets but the '
                    f'metric has dataset_names {self.dataset_names}: list '
                    'the datasets of the val/test ConcatDataset in the order '
                    'of dataset_names')
        for name, m in zip(self.dataset_names, metas):
            self.metrics[name].dataset_meta = m

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Hand every sample to its dataset's metric; keep its result."""
        for sample in data_samples:
            name = sample.get(DATASET_KEY)
            if name is None:
                raise KeyError(
                    f'a prediction for {sample.get("img_path")} has no '
                    f"'{DATASET_KEY}': end the test pipeline with "
                    "dict(type='mmdet.SetDatasetName', name=...)")
            if name not in self.metrics:
                raise ValueError(
                    f"prediction from unknown dataset '{name}' "
                    f'({sample.get("img_path")}): the metric evaluates '
                    f'{self.dataset_names}')
            metric = self.metrics[name]
            metric.process(data_batch, [sample])
            self.results.append((name, metric.results.pop()))

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """``<dataset>/<key>`` for every dataset that has results."""
        out: Dict[str, float] = OrderedDict()
        pool = in_process_tpfp() if self.in_process else \
            contextlib.nullcontext()
        with pool:
            for name, metric in self.metrics.items():
                mine = [r for n, r in results if n == name]
                if not mine:
                    continue
                for key, value in metric.compute_metrics(mine).items():
                    out[f'{name}/{key}'] = value
        return out
