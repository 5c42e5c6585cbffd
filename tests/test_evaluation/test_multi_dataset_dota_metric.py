"""MultiDatasetDOTAMetric: mmrotate's DOTAMetric per dataset, routed by the
samples' dataset_name, through mmengine's Evaluator."""
import copy

import pytest
import torch
from mmengine.evaluator import Evaluator
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
    prediction) keeps 1.0: results do not leak between datasets. (Each
    evaluation spawns mmrotate's 4-process pool per dataset, hence only
    two evaluations in this file.)"""
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
    evaluator = Evaluator(dict(
        type='MultiDatasetDOTAMetric', dataset_names=['dior', 'dota'],
        metric=dict(type='DOTAMetric', format_only=True,
                    outfile_prefix='work_dirs/sub/Task1', prefix='x')))
    metric = evaluator.metrics[0]
    assert [m.outfile_prefix for m in metric.metrics.values()] == [
        'work_dirs/sub/Task1_dior', 'work_dirs/sub/Task1_dota']
    assert all(m.format_only for m in metric.metrics.values())
