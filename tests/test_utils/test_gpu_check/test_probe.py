"""s5_mm.utils.gpu_check.probe: a recipe trimmed to a few recorded
iterations, the summary of the record and the failure entry."""
import math

import pytest

from s5_mm.utils.gpu_check.probe import (LOSS_SCALE_RANGE, failure, prepare,
                                         summarise)
from s5_mm.utils.gpu_check.recipes import s4p_ema


def test_summary_from_a_hand_made_record():
    record = [dict(losses=dict(loss=1.0, sup_loss=0.5), loss_scale=65536.,
                   time=10.0),
              dict(losses=dict(loss=0.8, sup_loss=0.4), loss_scale=32768.,
                   time=12.0),
              dict(losses=dict(loss=0.7, sup_loss=0.3), loss_scale=32768.,
                   time=13.0)]
    out = summarise(record, 'float16')
    # iterations 2 and 3 end 2 s and 1 s after the warm-up one: 2 in 3 s
    assert out['iters_per_s'] == 0.667
    assert out['losses_finite'] is True and out['last_loss'] == 0.7
    assert out['loss_scale'] == [32768., 65536.]
    assert out['loss_scale_in_range'] is True
    record[1]['losses']['loss'] = float('nan')
    record[2]['loss_scale'] = LOSS_SCALE_RANGE[0] / 2
    out = summarise(record, 'float16')
    assert out['losses_finite'] is False
    assert out['loss_scale_in_range'] is False


def test_summary_of_short_records():
    assert summarise([], None) == dict(iterations=0, amp=None,
                                       losses_finite=False, last_loss=None)
    one = summarise([dict(losses=dict(loss=2.0), loss_scale=None, time=1.)],
                    None)
    # no rate from the warm-up iteration alone, no scale without AMP
    assert one == dict(iterations=1, amp=None, losses_finite=True,
                       last_loss=2.0)


def test_failure_keeps_the_last_line_and_the_traceback():
    try:
        raise ValueError('while building\nLoveDADataset: no images in x')
    except ValueError as err:
        out = failure(err)
    assert out['status'] == 'failed'
    assert out['reason'] == 'ValueError: LoveDADataset: no images in x'
    assert out['traceback'].startswith('Traceback (most recent call last)')
    assert out['traceback'].rstrip().endswith('no images in x')
    assert failure(RuntimeError())['reason'] == 'RuntimeError: RuntimeError'


def test_prepare_trims_the_recipe(tmp_path):
    cfg = prepare(s4p_ema('tests/data', None), 's4p_ema', str(tmp_path), 3)
    assert cfg.work_dir == str(tmp_path / 's4p_ema')
    assert cfg.experiment_name.startswith('gpu_check_s4p_ema_')
    assert len(cfg.experiment_name) == len('gpu_check_s4p_ema_') + 8
    assert cfg.train_cfg == dict(type='IterBasedTrainLoop', max_iters=3,
                                 val_interval=4)
    for key in ('val_dataloader', 'val_cfg', 'val_evaluator',
                'test_dataloader', 'test_cfg', 'test_evaluator'):
        assert cfg[key] is None, key
    assert cfg.train_dataloader.num_workers == 0
    assert cfg.default_hooks.checkpoint.interval == 4
    assert cfg.default_hooks.logger == dict(type='LoggerHook', interval=1)
    # the recipe's EMA hook kept, pictures dropped, the recorder last
    types = [h['type'] for h in cfg.custom_hooks]
    assert types == ['EMATeacherHook', 'IterationRecorderHook']
    assert cfg.custom_hooks[-1]['run_id'] == cfg.experiment_name
    assert cfg.visualizer.name == cfg.experiment_name
    assert cfg.randomness == dict(seed=0)
    other = prepare(s4p_ema('tests/data', None), 's4p_ema', str(tmp_path), 3)
    assert other.experiment_name != cfg.experiment_name


@pytest.mark.parametrize('scale,ok', [(1.0, True), (2.0**24, True),
                                      (0.5, False), (2.0**25, False)])
def test_loss_scale_range_bounds(scale, ok):
    out = summarise([dict(losses=dict(loss=1.), loss_scale=scale, time=0.)],
                    'float16')
    assert out['loss_scale_in_range'] is ok
    assert math.isfinite(out['last_loss'])
