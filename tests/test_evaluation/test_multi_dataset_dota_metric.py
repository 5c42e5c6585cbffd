"""MultiDatasetDOTAMetric: mmrotate's DOTAMetric per dataset, routed by the
samples' dataset_name, through mmengine's Evaluator."""
import copy
import multiprocessing

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator

import s5_mm  # noqa: F401  (registers MultiDatasetDOTAMetric)
from mmengine.structures import InstanceData


def _evaluator(names=('dior', 'dota')):
    return Evaluator(dict(type='MultiDatasetDOTAMetric',
                          dataset_names=list(names)))


def _samples(test_sets, make_pred):
    """Every bundled DIOR-R / DOTA sample (mixed order) with a prediction."""
    out = []
    for i in range(len(test_sets['dota'])):
        out.append(test_sets['dota'][i]['data_samples'])
        if i == 1:
            out.append(test_sets['dior'][0]['data_samples'])
    for sample in out:
        sample.pred_instances = make_pred(sample.dataset_name,
                                          sample.gt_instances)
    return out


def _gt_as_pred(name, gt):
    pred = InstanceData()
    pred.bboxes = gt.bboxes.tensor.clone()
    pred.labels = gt.labels.clone()
    pred.scores = torch.ones(len(gt))
    return pred


def _empty_pred(name, gt):
    pred = InstanceData()
    pred.bboxes = torch.zeros(0, 5)
    pred.labels = torch.zeros(0, dtype=torch.long)
    pred.scores = torch.zeros(0)
    return pred


def _evaluate(test_sets, make_pred, metas):
    evaluator = _evaluator()
    evaluator.dataset_meta = metas
    samples = _samples(test_sets, make_pred)
    for i in range(0, len(samples), 2):  # batches of 2 mixing datasets
        evaluator.process(copy.deepcopy(samples[i:i + 2]))
    return evaluator.evaluate(len(samples))


def _metas(test_sets):
    return [test_sets['dior'].metainfo, test_sets['dota'].metainfo]


def test_ground_truth_as_prediction_scores_one(test_sets):
    result = _evaluate(test_sets, _gt_as_pred, _metas(test_sets))
    assert set(result) == {'dior/mAP', 'dior/AP50', 'dota/mAP', 'dota/AP50'}
    for key in result:
        assert result[key] == pytest.approx(1.0), key


def test_empty_prediction_scores_zero_without_leaking(test_sets):
    """Empty DOTA predictions give dota 0.0 while DIOR-R (ground truth as
    prediction) keeps 1.0: results do not leak between datasets."""
    def empty_for_dota(name, gt):
        return _empty_pred(name, gt) if name == 'dota' else _gt_as_pred(
            name, gt)
    result = _evaluate(test_sets, empty_for_dota, _metas(test_sets))
    assert result == {'dior/mAP': 1.0, 'dior/AP50': 1.0,
                      'dota/mAP': 0.0, 'dota/AP50': 0.0}


def test_errors(test_sets):
    evaluator = _evaluator()
    with pytest.raises(ValueError, match='has 4 datasets'):
        evaluator.dataset_meta = _metas(test_sets) * 2
    evaluator = _evaluator(['dior'])
    evaluator.dataset_meta = test_sets['dior'].metainfo
    sample = test_sets['dota'][0]['data_samples']
    sample.pred_instances = _gt_as_pred('dota', sample.gt_instances)
    with pytest.raises(ValueError, match="unknown dataset 'dota'"):
        evaluator.process([sample])


def test_output_files_per_dataset():
    from mmengine.registry import init_default_scope
    init_default_scope('mmrotate')  # not whatever scope an earlier test set
    evaluator = Evaluator(dict(
        type='MultiDatasetDOTAMetric', dataset_names=['dior', 'dota'],
        metric=dict(type='DOTAMetric', format_only=True,
                    outfile_prefix='work_dirs/sub/Task1', prefix='x')))
    metric = evaluator.metrics[0]
    assert [m.outfile_prefix for m in metric.metrics.values()] == [
        'work_dirs/sub/Task1_dior', 'work_dirs/sub/Task1_dota']
    assert all(m.format_only for m in metric.metrics.values())


def _half_gt_pred(name, gt):
    """Per image and class, the first ceil(n / 2) ground-truth boxes."""
    keep = []
    for c in gt.labels.unique():
        idx = (gt.labels == c).nonzero()[:, 0]
        keep += idx[:(len(idx) + 1) // 2].tolist()
    keep = torch.tensor(sorted(keep), dtype=torch.long)
    pred = InstanceData()
    pred.bboxes = gt.bboxes.tensor[keep].clone()
    pred.labels = gt.labels[keep].clone()
    pred.scores = torch.ones(len(keep))
    return pred


def test_partial_recall_matches_a_hand_computation(test_sets):
    """Exact boxes for about half of every class's objects: precision 1 at
    recall k/n, so the 11-point AP of a class is the share of the 11
    thresholds 0, 0.1, ..., 1 that are <= k/n; mAP is the mean over the
    classes with objects. Computed in this process (the default,
    ``in_process=True``), mmrotate's pool left as it was afterwards."""
    from mmrotate.evaluation.functional import mean_ap
    result = _evaluate(test_sets, _half_gt_pred, _metas(test_sets))
    assert mean_ap.get_context is multiprocessing.get_context
    for name in ('dior', 'dota'):
        n, k = {}, {}
        for sample in _samples(test_sets, _half_gt_pred):
            if sample.dataset_name != name:
                continue
            for c in sample.gt_instances.labels.tolist():
                n[c] = n.get(c, 0) + 1
            for c in sample.pred_instances.labels.tolist():
                k[c] = k.get(c, 0) + 1
        thresholds = np.arange(0, 1.1, 0.1)
        aps = [np.sum(thresholds <= k[c] / n[c]) / 11 for c in n]
        if name == 'dota':  # (the DIOR-R image has one object)
            assert min(aps) < 1.0, 'every class complete: too easy a case'
        assert result[f'{name}/mAP'] == pytest.approx(np.mean(aps),
                                                      abs=1e-6), name


def test_pool_path_gives_the_in_process_numbers(test_sets, monkeypatch):
    """``in_process=False`` leaves mmrotate's spawn pool in use (one pool
    per evaluation of a dataset) and gives the numbers of the default."""
    from mmrotate.evaluation.functional import mean_ap
    contexts = []

    def recording_get_context(method=None):
        contexts.append(method)
        return multiprocessing.get_context(method)

    monkeypatch.setattr(mean_ap, 'get_context', recording_get_context)
    samples = [s for s in _samples(test_sets, _half_gt_pred)
               if s.dataset_name == 'dota']
    results = {}
    for in_process in (True, False):
        evaluator = Evaluator(dict(type='MultiDatasetDOTAMetric',
                                   dataset_names=['dota'],
                                   in_process=in_process))
        evaluator.dataset_meta = [test_sets['dota'].metainfo]
        evaluator.process(copy.deepcopy(samples))
        results[in_process] = evaluator.evaluate(len(samples))
    assert contexts == ['spawn']  # only the pool run asked for a pool
    assert 0 < results[False]['dota/mAP'] < 1
    assert results[False] == pytest.approx(results[True], abs=1e-9)
