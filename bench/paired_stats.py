"""Paired-seed statistics and the machine record of ``bench/s4p_gain.py``.

A paired gain is an arm's test score minus the ``supervised`` arm's score
of the same seed (both started from that seed's warm-up checkpoint), so the
warm-up's seed-to-seed swing cancels out of it.
"""
import os
import platform
import re
from typing import Dict, List, Sequence

import numpy as np
import torch
from scipy import stats


def t_interval(values: Sequence[float], level: float = 0.95) -> List[float]:
    """Student-t confidence interval of the mean of ``values``.

    Args:
        values: One number per seed (at least 2).
        level: Coverage of the interval.

    Returns:
        ``[low, high]``; ``[mean, mean]`` when all values are equal.
    """
    x = np.asarray(values, dtype=np.float64)
    if x.size < 2:
        raise ValueError(f't_interval: need at least 2 seeds, got {x.size}; '
                         'pass more --seeds')
    half = stats.t.ppf(0.5 + level / 2, x.size - 1) * x.std(
        ddof=1) / np.sqrt(x.size)
    return [float(x.mean() - half), float(x.mean() + half)]


def rerun_interval(values: Sequence[float],
                   level: float = 0.95) -> List[float]:
    """Where the mean of a rerun of the same seeds on another machine is
    expected to land: ``mean +- t * sd * sqrt(2 / n)``.

    Another float order reshuffles each seed's result about as much as
    another seed does (the one-ulp probe shows it), so the rerun's mean is
    a second draw with the same spread, and the interval of the difference
    of two means is ``sqrt(2)`` times that of one. The t interval of the
    mean (:func:`t_interval`) covers the true mean; this one covers a
    rerun's mean, 95% of the time each.
    """
    x = np.asarray(values, dtype=np.float64)
    if x.size < 2:
        raise ValueError(f'rerun_interval: need at least 2 seeds, got '
                         f'{x.size}; pass more --seeds')
    half = stats.t.ppf(0.5 + level / 2, x.size - 1) * x.std(
        ddof=1) * np.sqrt(2.0 / x.size)
    return [float(x.mean() - half), float(x.mean() + half)]


def bootstrap_interval(values: Sequence[float], level: float = 0.95,
                       reps: int = 10000, seed: int = 0) -> List[float]:
    """Percentile bootstrap interval of the mean (resampling seeds)."""
    x = np.asarray(values, dtype=np.float64)
    rng = np.random.RandomState(seed)
    means = x[rng.randint(0, x.size, size=(reps, x.size))].mean(1)
    low, high = np.percentile(means, [50 - level * 50, 50 + level * 50])
    return [float(low), float(high)]


def paired_summary(values: Sequence[float]) -> Dict[str, object]:
    """Mean, 95% t and bootstrap intervals, the 95% rerun interval, the
    share of seeds with a positive value (the arm wins), min and max of
    paired gains."""
    x = np.asarray(values, dtype=np.float64)
    ci = t_interval(x)
    return dict(
        mean=round(float(x.mean()), 2),
        ci=[round(v, 2) for v in ci],
        boot_ci=[round(v, 2) for v in bootstrap_interval(x)],
        rerun=[round(v, 2) for v in rerun_interval(x)],
        sd=round(float(x.std(ddof=1)), 2),
        win_share=round(float((x > 0).mean()), 2),
        min=round(float(x.min()), 2),
        max=round(float(x.max()), 2),
        excludes_zero=bool(ci[0] > 0 or ci[1] < 0),
        n=int(x.size))


def one_ulp_up(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Every floating-point tensor moved by one ulp towards +inf
    (``torch.nextafter``); other tensors (counters) unchanged."""
    out = {}
    for key, value in state_dict.items():
        if torch.is_tensor(value) and value.is_floating_point():
            value = torch.nextafter(value, torch.full_like(value, np.inf))
        out[key] = value
    return out


def _cpu_model() -> str:
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or 'unknown'


def machine_record() -> Dict[str, object]:
    """What decides the float order of a run: CPU, library versions,
    threads, deterministic-algorithm mode."""
    import mmengine
    import mmseg
    config = torch.__config__.show()
    onednn = re.search(r'MKL-DNN (v[\w.]+)', config) or re.search(
        r'oneDNN (v[\w.]+)', config)
    return dict(
        cpu_model=_cpu_model(),
        cpu_count=os.cpu_count(),
        capability=(re.search(r'CPU capability usage: (\w+)', config)
                    or [None, None])[1],
        torch=torch.__version__,
        onednn=onednn.group(1) if onednn else 'unknown',
        mkldnn_enabled=bool(torch.backends.mkldnn.is_available()
                            and torch.backends.mkldnn.enabled),
        numpy=np.__version__,
        mmengine=mmengine.__version__,
        mmseg=mmseg.__version__,
        python=platform.python_version(),
        threads=torch.get_num_threads(),
        deterministic_algorithms=torch.are_deterministic_algorithms_enabled(),
        env={k: os.environ[k] for k in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS',
                                        'OMP_WAIT_POLICY', 'ONEDNN_VERBOSE')
             if k in os.environ})
