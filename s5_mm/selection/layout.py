"""The selector's work-dir layout, defined once (no torch)::

    WORK_DIR/unlabeled/, labeled/  score:   pool.txt, meta.json, features.npy,
                                            scores.npy, scores.csv, ...
    WORK_DIR/clusters/             cluster: centroids.npy, clusters.json,
                                            labeled/unlabeled_cluster.npy
    WORK_DIR/selection/            select:  split.txt, selection.csv,
                                            selection.json, report.png
"""
import os.path as osp
from typing import NamedTuple

# how to run each step, for the error that names a missing input
_STEP_COMMANDS = dict(
    score='tools/select_data.py score CONFIG CHECKPOINT --work-dir WORK_DIR '
    '--pool-root POOL --labeled-root LABELED',
    cluster='tools/select_data.py cluster --work-dir WORK_DIR '
    '--num-clusters M')


class SelectionWorkDir(NamedTuple):
    """The folders of one selection run (the tool's ``--work-dir``, the
    hook's ``work_dir/<out_dir>/iter_<k>``)."""
    unlabeled: str
    labeled: str
    clusters: str
    selection: str

    @classmethod
    def of(cls, root: str) -> 'SelectionWorkDir':
        return cls(*(osp.join(root, name) for name in cls._fields))


def require_input(path: str, step: str) -> str:
    """``path``, or an error naming it and the ``step`` that writes it."""
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'{path} not found: it is written by the {step} step; run '
            f'`{_STEP_COMMANDS[step]}` (to completion) first')
    return path
