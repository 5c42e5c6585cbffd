"""Interleaved A/B timing shared by the latency benches.

Single timings on a shared machine vary by 20-50%; a ratio of two
neighbouring timings varies far less. ``interleaved`` times ``a`` and ``b``
in pairs whose order alternates and reports the median pair-wise ratio.
On a loaded machine, process CPU time (``--clock cpu``) with one thread is
moved far less by other processes than wall time.
"""
import sys
import time
from statistics import median
from typing import Callable, Dict, List

from mmengine.utils import ProgressBar

CLOCKS = dict(wall=time.perf_counter, cpu=time.process_time)


def add_clock_args(parser) -> None:
    """``--clock`` and ``--threads``, the same in every bench."""
    parser.add_argument('--threads', type=int, default=0,
                        help='torch threads (0: torch default)')
    parser.add_argument('--clock', choices=tuple(CLOCKS), default='wall',
                        help='wall: perf_counter; cpu: process CPU time '
                        '(use with --threads 1 on a loaded machine)')


def timed(fn: Callable[[], object], clock: Callable[[], float]) -> float:
    """Seconds ``fn()`` takes on ``clock``."""
    start = clock()
    fn()
    return clock() - start


def interleaved(a: Callable, b: Callable, pairs: int, label: str,
                clock: str = 'wall') -> Dict[str, object]:
    """Median of t(b) / t(a) over ``pairs`` interleaved pairs.

    Args:
        a, b: The two callables; each runs once untimed first (warm-up).
        pairs: Timed pairs; the order inside a pair alternates.
        label: Printed to stderr when done.
        clock: ``'wall'`` or ``'cpu'`` (:data:`CLOCKS`).

    Returns:
        ``ratio`` (the median), the pair-wise ``ratios`` and the raw
        ``seconds_a`` / ``seconds_b``.
    """
    if clock not in CLOCKS:
        raise ValueError(f'clock {clock!r}: use one of {tuple(CLOCKS)}')
    tick = CLOCKS[clock]
    a(), b()  # warm-up
    times_a: List[float] = []
    times_b: List[float] = []
    bar = ProgressBar(pairs, file=sys.stderr)
    for i in range(pairs):
        if i % 2:
            times_b.append(timed(b, tick))
            times_a.append(timed(a, tick))
        else:
            times_a.append(timed(a, tick))
            times_b.append(timed(b, tick))
        bar.update()
    sys.stderr.write(f'\n{label} done\n')
    ratios = [tb / ta for ta, tb in zip(times_a, times_b)]
    return dict(
        ratio=median(ratios),
        ratios=[round(r, 4) for r in ratios],
        seconds_a=[round(t, 3) for t in times_a],
        seconds_b=[round(t, 3) for t in times_b])
