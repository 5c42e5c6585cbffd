"""The selector's work-dir layout, defined once (no torch)::

    WORK_DIR/unlabeled/, labeled/  score:   pool.txt, meta.json, features.npy,
                                            scores.npy, scores.csv, ...
    WORK_DIR/clusters/             cluster: centroids.npy, clusters.json,
                                            labeled/unlabeled_cluster.npy
    WORK_DIR/selection/            select:  split.txt, selection.csv,
                                            selection.json, report.png

A score folder's ``shards/`` holds, per shard ``s`` (6 digits), the files
``SHARD_FILES``; the ``.done.json`` marker is written last.
"""
import math
import os.path as osp
from typing import NamedTuple

#: the files of one shard, the done marker last
SHARD_FILES = ('.scores.npy', '.feat.npy', '.rejects.tsv', '.done.json')

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


def shard_prefix(score_dir: str, shard: int) -> str:
    """Path prefix of a shard's files (``<score_dir>/shards/000042``)."""
    return osp.join(score_dir, 'shards', f'{shard:06d}')


def shard_done(score_dir: str, shard: int) -> bool:
    """Whether a shard is complete (its marker is written last)."""
    return osp.isfile(shard_prefix(score_dir, shard) + SHARD_FILES[-1])


def num_shards_of(num_images: int, shard_size: int) -> int:
    """Number of shards of a pool (at least one, possibly empty)."""
    return max(1, math.ceil(num_images / shard_size))


def shard_range(shard: int, shard_size: int, num_images: int) -> range:
    """The pool indices of a shard."""
    return range(shard * shard_size,
                 min(num_images, (shard + 1) * shard_size))


def require_input(path: str, step: str) -> str:
    """``path``, or an error naming it and the ``step`` that writes it."""
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'{path} not found: it is written by the {step} step; run '
            f'`{_STEP_COMMANDS[step]}` (to completion) first')
    return path
