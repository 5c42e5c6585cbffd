"""Does a rerun of ``bench/s4p_gain.py`` land inside a reference run's
intervals?

Reads the JSON (the last line of each log, or a ``.json`` file) of a
reference run and of a rerun (another machine, or another ``--threads``,
which changes the float order) and checks, for every paired gain (mIoU,
minority classes, each class; every task and arm), whether the rerun's
mean lies inside the reference's 95% t interval. Prints one line per gain
and, last, a JSON object with the counts.

    python bench/s4p_gain_compare.py bench/results/s4p_gain_t1.json \
        bench/results/s4p_gain_t2.json
"""
import argparse
import json
from typing import Iterator, Tuple


def load(path: str) -> dict:
    """The last JSON line of ``path``."""
    with open(path) as f:
        lines = [ln for ln in f.read().splitlines() if ln.startswith('{')]
    if not lines:
        raise ValueError(f'{path}: no JSON line; give the log or the .json '
                         'written by bench/s4p_gain.py')
    return json.loads(lines[-1])


def gains(run: dict) -> Iterator[Tuple[str, dict]]:
    """(name, paired summary) of every gain of a run."""
    for task in run['config']['tasks']:
        classes = len(next(iter(run[task]['gains'].values()))['per_class'])
        for arm, g in run[task]['gains'].items():
            yield f'{task}/{arm}/mIoU', g['miou']
            yield f'{task}/{arm}/minority', g['minority']
            for k in range(classes):
                yield f'{task}/{arm}/class{k}', g['per_class'][k]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('reference')
    parser.add_argument('rerun')
    args = parser.parse_args()
    ref, new = load(args.reference), load(args.rerun)
    new_gains = dict(gains(new))
    inside, outside = [], []
    for name, r in gains(ref):
        if name not in new_gains:
            continue
        mean = new_gains[name]['mean']
        ok = r['ci'][0] <= mean <= r['ci'][1]
        (inside if ok else outside).append(name)
        print(f'{name:32s} reference {r["mean"]:+.2f} [{r["ci"][0]:+.2f}, '
              f'{r["ci"][1]:+.2f}]  rerun {mean:+.2f} '
              f'{"inside" if ok else "OUTSIDE"}')
    machines = [
        {k: run['machine'][k] for k in ('cpu_model', 'torch', 'onednn',
                                        'threads')} for run in (ref, new)
    ]
    print(json.dumps(dict(inside=len(inside), outside=outside,
                          reference=machines[0], rerun=machines[1])))


if __name__ == '__main__':
    main()
