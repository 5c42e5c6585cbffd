"""bench/ab_timing.py: the pair order alternates, the ratio is the median
of the pair-wise ratios, the CPU clock ignores time spent sleeping."""
import os.path as osp
import sys
import time

import pytest

sys.path.insert(0, osp.join(osp.dirname(__file__), '..', '..', 'bench'))
import ab_timing  # noqa: E402
from ab_timing import interleaved  # noqa: E402


def test_order_alternates_and_ratio_is_the_median(monkeypatch):
    now = [0.0]
    monkeypatch.setitem(ab_timing.CLOCKS, 'fake', lambda: now[0])
    calls = []
    b_costs = iter([9.0, 2.0, 5.0, 3.0, 7.0])  # warm-up, then 4 pairs

    def a():
        calls.append('a')
        now[0] += 1.0

    def b():
        calls.append('b')
        now[0] += next(b_costs)

    res = interleaved(a, b, 4, 'order', clock='fake')
    # warm-up a b, then a b | b a | a b | b a
    assert ''.join(calls) == 'ab' + 'ab' + 'ba' + 'ab' + 'ba'
    assert res['ratios'] == [2.0, 5.0, 3.0, 7.0]
    assert res['ratio'] == 4.0  # median of 2, 3, 5, 7
    assert res['seconds_a'] == [1.0] * 4


def test_cpu_clock_counts_work_not_sleep():
    def spin(seconds):
        end = time.process_time() + seconds
        while time.process_time() < end:
            pass

    def a():
        spin(0.005)

    def b():  # as much CPU work as a, plus a sleep a wall clock would see
        spin(0.005)
        time.sleep(0.1)

    cpu = interleaved(a, b, 3, 'cpu', clock='cpu')
    wall = interleaved(a, b, 3, 'wall', clock='wall')
    assert 0.7 < cpu['ratio'] < 1.5
    assert wall['ratio'] > 2.0


def test_unknown_clock_is_named():
    with pytest.raises(ValueError, match="clock 'gpu'"):
        interleaved(lambda: None, lambda: None, 1, 'x', clock='gpu')
