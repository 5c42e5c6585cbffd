"""bench/paired_stats.py: intervals against hand computations, the one-ulp
move against the bit pattern."""
import os.path as osp
import sys

import numpy as np
import torch

sys.path.insert(0, osp.join(osp.dirname(__file__), '..', '..', 'bench'))
from paired_stats import (one_ulp_up, paired_summary,  # noqa: E402
                          t_interval)


def test_t_interval_matches_hand_computation():
    # mean 2.5, sd 1.2910, se 0.6455, t(0.975, df=3) = 3.182446
    low, high = t_interval([1.0, 2.0, 3.0, 4.0])
    half = 3.182446 * np.sqrt(5 / 3) / 2
    assert abs(low - (2.5 - half)) < 1e-5
    assert abs(high - (2.5 + half)) < 1e-5


def test_paired_summary_wins_and_zero():
    s = paired_summary([3.0, 4.0, 5.0, -1.0])
    assert s['win_share'] == 0.75
    assert s['mean'] == 2.75 and s['min'] == -1.0 and s['max'] == 5.0
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
