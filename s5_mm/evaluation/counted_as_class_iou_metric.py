"""IoUMetric that also reports the metrics with one ignored label counted
as correct pixels of a class: the S5 authors' Vaihingen / Potsdam scores."""
from typing import Dict, Sequence

import mmcv
import torch
from mmengine.fileio import get
from mmseg.evaluation.metrics import IoUMetric
from mmseg.registry import METRICS


@METRICS.register_module()
class CountedAsClassIoUMetric(IoUMetric):
    """mmseg's :class:`IoUMetric` (its keys unchanged), plus the same metrics
    with every pixel whose label file holds ``raw_label`` counted as a
    correctly predicted pixel of class ``as_class`` (keys + ``suffix``).

    The S5 authors (`S5 <https://arxiv.org/abs/2508.12409>`_; MiliLab/S5
    ``RS_Finetune/Semantic_Segmentation/util/utils.py:
    intersectionAndUnion``, called with ``K=5``, ``ignore_index=5`` for
    Vaihingen and Potsdam) set the prediction to 5 where the label is
    clutter (5) and count with ``np.histogram(bins=np.arange(6))``, whose
    last bin ``[4, 5]`` is closed: each clutter pixel adds one to the
    intersection, prediction and label areas of class 4 (car). Their
    reported Vaihingen mIoU / Potsdam mF1 include this; the plain keys do
    not (clutter ignored).

    The label file of each sample (``seg_map_path``) is read again, as
    ``LoadAnnotations`` reads it, so labels must not be resized in the
    test pipeline (they are compared at their size).

    Args:
        raw_label (int): The value in the label files (before
            ``reduce_zero_label`` / ``label_map``; mmseg's ISPRS files:
            6 = clutter).
        as_class (int): The class those pixels count for (4 = car).
        suffix (str): Suffix of the extra keys. Defaults to '_as_authors'.
        **kwargs: Arguments of :class:`IoUMetric`.
    """

    def __init__(self,
                 raw_label: int,
                 as_class: int,
                 suffix: str = '_as_authors',
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if self.format_only or self.output_dir is not None:
            raise ValueError('CountedAsClassIoUMetric scores labelled data; '
                             'use IoUMetric to write predictions')
        self.raw_label = raw_label
        self.as_class = as_class
        self.suffix = suffix

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """IoUMetric's areas of each sample and its ``raw_label`` count."""
        num_classes = len(self.dataset_meta['classes'])
        for sample in data_samples:
            pred = sample['pred_sem_seg']['data'].squeeze()
            label = sample['gt_sem_seg']['data'].squeeze().to(pred)
            path = sample['seg_map_path']
            raw = mmcv.imfrombytes(get(path), flag='unchanged',
                                   backend='pillow')
            if raw.shape != tuple(label.shape):
                raise ValueError(
                    f'CountedAsClassIoUMetric: {path} is {raw.shape} but the '
                    f'label compared is {tuple(label.shape)}: do not resize '
                    'labels in the test pipeline')
            areas = self.intersect_and_union(pred, label, num_classes,
                                             self.ignore_index)
            counted = torch.tensor(int((raw == self.raw_label).sum()))
            self.results.append(tuple(areas) + (counted, ))

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """IoUMetric's metrics and the ``suffix`` ones."""
        metrics = super().compute_metrics([r[:4] for r in results])
        counted = []
        for *areas, n in results:
            areas = [a.clone() for a in areas]
            for area in areas:  # intersection, union, prediction, label
                area[self.as_class] += n.to(area)
            counted.append(tuple(areas))
        extra = super().compute_metrics(counted)
        metrics.update({k + self.suffix: v for k, v in extra.items()})
        return metrics
