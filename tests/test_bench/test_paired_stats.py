"""bench/paired_stats.py: intervals against hand computations, the one-ulp
move against the bit pattern."""
import os.path as osp
import sys

import numpy as np
import torch

sys.path.insert(0, osp.join(osp.dirname(__file__), '..', '..', 'bench'))
from paired_stats import (one_ulp_up, paired_summary,  # noqa: E402
                          rerun_interval, t_interval)


def test_t_interval_matches_hand_computation():
    # mean 2.5, sd 1.2910, se 0.6455, t(0.975, df=3) = 3.182446
    low, high = t_interval([1.0, 2.0, 3.0, 4.0])
    half = 3.182446 * np.sqrt(5 / 3) / 2
    assert abs(low - (2.5 - half)) < 1e-5
    assert abs(high - (2.5 + half)) < 1e-5


def test_rerun_interval_is_sqrt2_wider_and_covers_a_second_draw():
    # same hand numbers: half-width t * sd * sqrt(2 / n)
    low, high = rerun_interval([1.0, 2.0, 3.0, 4.0])
    half = 3.182446 * np.sqrt(5 / 3) * np.sqrt(2 / 4)
    assert abs(low - (2.5 - half)) < 1e-5
    assert abs(high - (2.5 + half)) < 1e-5
    t_low, t_high = t_interval([1.0, 2.0, 3.0, 4.0])
    assert abs((high - low) / (t_high - t_low) - np.sqrt(2)) < 1e-9
    # coverage: the mean of a second sample of the same distribution lands
    # inside the first sample's rerun interval ~95% of the time (the t
    # interval of the mean covers it only ~83% of the time)
    rng = np.random.RandomState(0)
    hits_rerun = hits_t = 0
    trials = 4000
    for _ in range(trials):
        a, b = rng.normal(size=10), rng.normal(size=10)
        lo, hi = rerun_interval(a)
        hits_rerun += lo <= b.mean() <= hi
        lo, hi = t_interval(a)
        hits_t += lo <= b.mean() <= hi
    assert 0.935 < hits_rerun / trials < 0.965
    assert 0.80 < hits_t / trials < 0.87


def test_paired_summary_wins_and_zero():
    s = paired_summary([3.0, 4.0, 5.0, -1.0])
    assert s['win_share'] == 0.75
    assert s['mean'] == 2.75 and s['min'] == -1.0 and s['max'] == 5.0
    assert s['rerun'] == [round(v, 2) for v in rerun_interval(
        [3.0, 4.0, 5.0, -1.0])]
    assert s['excludes_zero'] is False  # sd 2.63, half-width 4.19
    assert paired_summary([1.0, 1.1, 0.9, 1.0])['excludes_zero'] is True


def test_one_ulp_up_moves_each_float_by_one_ulp():
    w = torch.tensor([1.0, -2.5, 0.0, 3e-8])
    state = {'w': w, 'num_batches_tracked': torch.tensor(7)}
    out = one_ulp_up(state)
    bits = out['w'].view(torch.int32) - w.view(torch.int32)
    # positive floats: bit pattern + 1; negative: - 1; +0 -> smallest
    # subnormal (bit pattern 1)
    assert bits.tolist() == [1, -1, 1, 1]
    assert out['num_batches_tracked'] is state['num_batches_tracked']
