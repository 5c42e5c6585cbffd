"""Does a rerun of ``bench/s4p_gain.py`` land inside a reference run's
intervals?

Reads the JSON (the last line of each log, or a ``.json`` file) of a
reference run and of a rerun (another machine, or another ``--threads``,
which changes the float order) and checks, for every paired gain (mIoU,
minority classes, each class; every task and arm):

* whether the rerun's mean lies inside the reference's 95% **rerun
  interval** (``mean +- t sd sqrt(2/n)``, ``paired_stats.rerun_interval``):
  the claim the benchmark prints about another machine. A rerun's mean has
  its own seed and float-order noise, so it lands outside the reference's
  t interval of the mean about 1 time in 6 even when nothing changed, and
  outside the rerun interval about 1 time in 20;
* whether it lies inside the reference's t interval (reported, not the
  check);
* the Welch 95% interval of the difference of the two means: do the runs
  differ?

Prints one line per gain and, last, a JSON object with the counts.

    python bench/s4p_gain_compare.py bench/results/s4p_gain_t1.json \
        bench/results/s4p_gain_t2.json
"""
import argparse
import json
from typing import Iterator, List, Tuple

import numpy as np
from scipy import stats


def load(path: str) -> dict:
    """The last JSON line of ``path``."""
    with open(path) as f:
        lines = [ln for ln in f.read().splitlines() if ln.startswith('{')]
    if not lines:
        raise ValueError(f'{path}: no JSON line; give the log or the .json '
                         'written by bench/s4p_gain.py')
    return json.loads(lines[-1])


def gains(run: dict) -> Iterator[Tuple[str, dict]]:
    """(name, paired summary) of every gain of a run: each arm over
    ``supervised`` and each option over ``fixmatch``."""
    for task in run['config']['tasks']:
        classes = len(next(iter(run[task]['gains'].values()))['per_class'])
        against = [('', run[task]['gains']),
                   ('-fixmatch', run[task].get('options_vs_fixmatch', {}))]
        for suffix, arms in against:
            for arm, g in arms.items():
                yield f'{task}/{arm}{suffix}/mIoU', g['miou']
                yield f'{task}/{arm}{suffix}/minority', g['minority']
                for k in range(classes):
                    yield f'{task}/{arm}{suffix}/class{k}', g['per_class'][k]


def welch_interval(a: dict, b: dict, level: float = 0.95) -> List[float]:
    """Welch t interval of ``b['mean'] - a['mean']`` from two paired
    summaries (mean, sd, n): do the two runs' means differ?"""
    va, vb = a['sd']**2 / a['n'], b['sd']**2 / b['n']
    if va + vb == 0:
        return [b['mean'] - a['mean']] * 2
    dof = (va + vb)**2 / (va**2 / (a['n'] - 1) + vb**2 / (b['n'] - 1))
    half = stats.t.ppf(0.5 + level / 2, dof) * np.sqrt(va + vb)
    return [b['mean'] - a['mean'] - half, b['mean'] - a['mean'] + half]


def rerun_of(summary: dict, level: float = 0.95) -> List[float]:
    """The summary's rerun interval (recomputed from mean, sd, n for JSON
    written before it was recorded)."""
    if 'rerun' in summary:
        return summary['rerun']
    half = stats.t.ppf(0.5 + level / 2, summary['n'] - 1) * summary['sd'] \
        * np.sqrt(2.0 / summary['n'])
    return [summary['mean'] - half, summary['mean'] + half]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('reference')
    parser.add_argument('rerun')
    args = parser.parse_args()
    ref, new = load(args.reference), load(args.rerun)
    new_gains = dict(gains(new))
    inside, outside, outside_ci, differ, missing = [], [], [], [], []
    for name, r in gains(ref):
        if name not in new_gains:  # another --tasks / --arms: said, counted
            missing.append(name)
            print(f'{name:32s} not in the rerun ({args.rerun})')
            continue
        n = new_gains[name]
        mean = n['mean']
        rr = rerun_of(r)
        ok = rr[0] <= mean <= rr[1]
        (inside if ok else outside).append(name)
        if not r['ci'][0] <= mean <= r['ci'][1]:
            outside_ci.append(name)
        low, high = welch_interval(r, n)
        if low > 0 or high < 0:
            differ.append(name)
        print(f'{name:32s} reference {r["mean"]:+.2f} rerun interval '
              f'[{rr[0]:+.2f}, {rr[1]:+.2f}]  rerun {mean:+.2f} '
              f'{"inside" if ok else "OUTSIDE"}; rerun - reference '
              f'{mean - r["mean"]:+.2f} [{low:+.2f}, {high:+.2f}]')
    machines = [
        {k: run['machine'][k] for k in ('cpu_model', 'torch', 'onednn',
                                        'threads')} for run in (ref, new)
    ]
    print(json.dumps(dict(inside=len(inside), outside=outside,
                          outside_t_interval=outside_ci, means_differ=differ,
                          not_in_rerun=missing,
                          reference=machines[0], rerun=machines[1])))


if __name__ == '__main__':
    main()
