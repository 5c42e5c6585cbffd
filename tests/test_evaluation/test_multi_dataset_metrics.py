"""s5_mm.evaluation.multi_dataset_metrics.MultiDatasetEvaluator: each
prediction scored by its own dataset's metric; mIoU and mean computed by
hand."""
import pytest
import torch
from mmengine.registry import EVALUATOR, init_default_scope

import s5_mm  # noqa: F401


def sample(name, pred, gt):
    return dict(dataset_name=name, img_path=f'{name}.png',
                pred_sem_seg=dict(data=torch.tensor([pred])),
                gt_sem_seg=dict(data=torch.tensor([gt])))


def build(**kwargs):
    init_default_scope('mmseg')
    evaluator = EVALUATOR.build(dict(
        type='MultiDatasetEvaluator',
        metrics=dict(a=dict(type='IoUMetric'), b=[dict(type='IoUMetric')]),
        **kwargs))
    evaluator.set_dataset_meta('a', dict(classes=('x', 'y')))
    evaluator.set_dataset_meta('b', dict(classes=('x', 'y', 'z')))
    return evaluator


def test_per_dataset_miou_and_their_mean():
    evaluator = build(mean_of=dict(a='mIoU', b='mIoU'))
    assert evaluator.dataset_names == ['a', 'b']
    # a: class x 1 / 2 px, class y 2 / 3 px -> mIoU (1/2 + 2/3) / 2
    # b: every pixel right -> 100
    evaluator.process([sample('b', [[0, 1], [2, 2]], [[0, 1], [2, 2]]),
                       sample('a', [[0, 1], [1, 1]], [[0, 0], [1, 1]])])
    results = evaluator.evaluate_datasets(dict(a=1, b=1))
    a = round((1 / 2 + 2 / 3) / 2 * 100, 2)
    assert results['a/mIoU'] == pytest.approx(a)
    assert results['b/mIoU'] == 100
    assert results['mean'] == pytest.approx((a + 100) / 2)
    assert list(results)[-1] == 'mean'
    assert {k.split('/')[0] for k in results if '/' in k} == {'a', 'b'}


def test_kwargs_reach_every_metric_output_dir_per_dataset():
    evaluator = build(output_dir='out', format_only=True)
    assert [m.output_dir for m in evaluator.metrics] == ['out/a', 'out/b']
    assert all(m.format_only for m in evaluator.metrics)


def test_errors_name_the_dataset_and_the_fix():
    with pytest.raises(KeyError, match=r"mean_of names datasets \['c'\]"):
        build(mean_of=dict(c='mIoU'))
    with pytest.raises(TypeError, match='non-empty dict'):
        EVALUATOR.build(dict(type='MultiDatasetEvaluator', metrics=[]))
    evaluator = build(mean_of=dict(a='mFscore'))
    no_name = sample('a', [[0]], [[0]])
    no_name.pop('dataset_name')
    with pytest.raises(KeyError, match=r"a.png\) has no 'dataset_name'"):
        evaluator.process([no_name])
    with pytest.raises(KeyError, match=r"dataset 'c' but the evaluator has "
                       r"metrics only for \['a', 'b'\]"):
        evaluator.process([sample('c', [[0]], [[0]])])
    with pytest.raises(RuntimeError, match='MultiDatasetValLoop'):
        evaluator.evaluate(1)
    with pytest.raises(KeyError, match="no validation data for dataset 'a'"):
        evaluator.evaluate_datasets(dict(b=1))
    evaluator.process([sample('a', [[0]], [[0]]), sample('b', [[0]], [[0]])])
    with pytest.raises(KeyError, match=r"mean_of\['a'\] = 'mFscore'.*"
                       r"\['a/aAcc', 'a/mIoU', 'a/mAcc'\]"):
        evaluator.evaluate_datasets(dict(a=1, b=1))
