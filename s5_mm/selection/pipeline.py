"""The selection pipeline: the score step and :func:`run_selection`, the
function both ``tools/select_data.py`` and the selector hook call.

``score_pool`` -> ``<score_dir>/{pool.txt, meta.json, features.npy,
scores.npy, scores.csv, rejects.tsv, summary.json}``; the cluster and select
steps live in the torch-free :mod:`s5_mm.selection.cluster_select`, the
folders in :mod:`s5_mm.selection.layout`. Every file is written atomically;
every step can be re-run and gives the same bytes.
"""
import csv
import dataclasses
import hashlib
import logging
import os.path as osp
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine import fileio
from mmengine.dist import barrier, get_dist_info
from mmengine.logging import print_log
from torch import nn

from .cluster_select import cluster_pools, select_pool
from .io import (atomic_open, atomic_save_npy, atomic_write_json,
                 atomic_write_text, write_npy_header)
from .layout import SelectionWorkDir, num_shards_of, shard_done, shard_prefix
from .scoring import SCORE_DTYPE
from .settings import SelectionSettings
from .shard_scorer import score_shards
from .split_file import write_split_file

Logger = Union[str, logging.Logger]
Pools = Dict[str, Tuple[str, Sequence[str]]]


def settings_of(settings: Optional[SelectionSettings],
                changes: dict) -> SelectionSettings:
    """``settings`` (default: the defaults) with ``changes`` applied; an
    unknown key is an error naming it."""
    base = dataclasses.asdict(settings or SelectionSettings())
    return SelectionSettings.from_dict(dict(base, **changes))


def _check_or_write_meta(score_dir: str, rel_paths: Sequence[str],
                         meta: dict) -> None:
    """Create the score folder's ``meta.json``/``pool.txt`` or verify that a
    resumed run uses the same pool and settings."""
    rank, _ = get_dist_info()
    digest = hashlib.sha1('\n'.join(rel_paths).encode()).hexdigest()
    meta = dict(meta, num_images=len(rel_paths), pool_sha1=digest)
    meta_path = osp.join(score_dir, 'meta.json')
    if rank == 0 and not osp.isfile(meta_path):
        write_split_file(osp.join(score_dir, 'pool.txt'), rel_paths)
        atomic_write_json(meta_path, meta)
    barrier()
    old = fileio.load(meta_path)
    diff = {k: (old.get(k), v) for k, v in meta.items() if old.get(k) != v}
    if diff:
        raise ValueError(
            f'{score_dir} holds a scoring run with other settings '
            f'(key: (stored, now)) {diff}; use another work dir to score '
            'with new settings, or delete it to start over')


def score_pool(model: nn.Module,
               pipeline,
               root: str,
               rel_paths: Sequence[str],
               score_dir: str,
               settings: Optional[SelectionSettings] = None,
               fingerprint: Optional[dict] = None,
               logger: Logger = 'current',
               progress: bool = True,
               **changes) -> dict:
    """Score a pool on every rank, then merge the shards on rank 0.

    Args:
        model, pipeline, root, rel_paths: See
            :class:`s5_mm.selection.shard_scorer.ShardScorer`.
        score_dir (str): Output folder of this pool.
        settings (SelectionSettings, optional): Default: the defaults.
        fingerprint (dict, optional): Extra settings (config, checkpoint)
            stored in ``meta.json``; a resumed run must match them.
        logger (str | logging.Logger): Where progress messages go.
        progress (bool): Show a progress bar on rank 0.
        **changes: Settings to change (``shard_size=8``...).

    Returns:
        dict: Scoring stats plus ``complete`` (all shards done and merged).
    """
    settings = settings_of(settings, changes)
    rank, world_size = get_dist_info()
    _check_or_write_meta(score_dir, rel_paths,
                         dict(fingerprint or {}, root=osp.abspath(root),
                              **settings.resume_keys()))
    stats = score_shards(model, pipeline, root, rel_paths, score_dir,
                         settings, rank, world_size, progress and rank == 0)
    barrier()
    num_shards = num_shards_of(len(rel_paths), settings.shard_size)
    missing = [s for s in range(num_shards) if not shard_done(score_dir, s)]
    if not missing and rank == 0:
        merge_shards(score_dir, rel_paths, num_shards)
    barrier()
    stats['complete'] = not missing
    if missing:
        print_log(f'{score_dir}: {len(missing)} of {num_shards} shards left; '
                  'run the same command again to continue', logger=logger)
    return stats


def merge_shards(score_dir: str, rel_paths: Sequence[str],
                 num_shards: int) -> dict:
    """Concatenate the shard files of a pool into its final outputs.

    Streams features shard by shard (memory: one shard).

    Returns:
        dict: The summary written to ``summary.json``.
    """
    scores, dims = [], set()
    for s in range(num_shards):
        scores.append(np.load(shard_prefix(score_dir, s) + '.scores.npy'))
        if len(scores[-1]):
            feat = np.load(shard_prefix(score_dir, s) + '.feat.npy',
                           mmap_mode='r')
            dims.add(feat.shape[1])
    if len(dims) > 1:
        raise ValueError(f'{score_dir}: shards hold features of dims {dims}; '
                         'they come from different models, rescore')
    dim = dims.pop() if dims else 0
    scores = np.concatenate(scores) if scores else np.zeros(0, SCORE_DTYPE)
    with atomic_open(osp.join(score_dir, 'features.npy')) as f:
        write_npy_header(f, (len(scores), dim), np.float16)
        for s in range(num_shards):
            feat = np.load(shard_prefix(score_dir, s) + '.feat.npy')
            if len(feat):
                f.write(np.ascontiguousarray(feat, np.float16).tobytes())
    atomic_save_npy(osp.join(score_dir, 'scores.npy'), scores)
    with atomic_open(osp.join(score_dir, 'scores.csv'), 'w', encoding='utf-8',
                     newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['path', 'entropy'])
        for i, e in zip(scores['index'].tolist(), scores['entropy'].tolist()):
            writer.writerow([rel_paths[i], f'{e:.6f}'])
    rejects = ''.join(
        fileio.get_text(shard_prefix(score_dir, s) + '.rejects.tsv')
        for s in range(num_shards))
    num_rejected = rejects.count('\n')
    if len(scores) + num_rejected != len(rel_paths):
        raise RuntimeError(
            f'{score_dir}: {len(scores)} scored + {num_rejected} '
            f'rejected images != {len(rel_paths)} in the pool; the shard '
            'files are inconsistent, delete the shards folder and rescore')
    atomic_write_text(osp.join(score_dir, 'rejects.tsv'), rejects)
    summary = dict(num_images=len(rel_paths), scored=int(len(scores)),
                   rejected=num_rejected, feature_dim=dim,
                   mean_entropy=float(scores['entropy'].mean())
                   if len(scores) else None)
    atomic_write_json(osp.join(score_dir, 'summary.json'), summary)
    return summary


def score_pools(model: nn.Module,
                pipeline,
                work_dir: str,
                pools: Pools,
                settings: SelectionSettings,
                fingerprint: Optional[dict] = None,
                logger: Logger = 'current') -> bool:
    """The score step: :func:`score_pool` of every pool (``'unlabeled'``
    and optionally ``'labeled'`` -> (image root, relative paths)) into its
    folder of ``work_dir``; True if all are complete."""
    layout = SelectionWorkDir.of(work_dir)
    complete = True
    for name, (root, rel_paths) in pools.items():
        print_log(f'scoring the {name} images under {root}', logger=logger)
        stats = score_pool(model, pipeline, root, rel_paths,
                           getattr(layout, name), settings, fingerprint,
                           logger)
        print_log(f'{name}: {stats}', logger=logger)
        complete &= stats['complete']
    return complete


def run_selection(model: nn.Module,
                  pipeline,
                  work_dir: str,
                  pools: Pools,
                  settings: SelectionSettings,
                  split_file: Optional[str] = None,
                  fingerprint: Optional[dict] = None,
                  logger: Logger = 'current') -> Optional[dict]:
    """Score both pools, cluster, select: the whole selector in one call
    (``tools/select_data.py all`` and the selector hook).

    Outputs go to the folders of :class:`SelectionWorkDir` under
    ``work_dir``. Under a distributed launcher every rank scores its shards;
    clustering and selection run on rank 0.

    Args:
        model (nn.Module): mmseg segmentor.
        pipeline: Scoring pipeline (:func:`build_scoring_pipeline`).
        work_dir (str): Output folder.
        pools (dict): ``unlabeled`` and ``labeled`` -> (image root, relative
            paths).
        settings (SelectionSettings): All settings; ``num_clusters`` and
            ``budget`` must be set.
        split_file (str, optional): Also write the split file here.
        fingerprint (dict, optional): See :func:`score_pool`.
        logger (str | logging.Logger): Where progress messages go.

    Returns:
        dict | None: ``selection.json`` content on rank 0 once complete; None
        on other ranks or while shards are left (``max_shards``).
    """
    settings.require('num_clusters', 'budget')
    missing = {'unlabeled', 'labeled'} - set(pools)
    if missing:
        raise KeyError(f'run_selection needs the pools {sorted(missing)}')
    done = score_pools(model, pipeline, work_dir, pools, settings,
                       fingerprint, logger)
    summary, layout = None, SelectionWorkDir.of(work_dir)
    if not done:
        print_log('scoring not complete yet (max_shards); run again to '
                  'continue, clustering and selection follow once it is',
                  logger=logger)
    elif get_dist_info()[0] == 0:
        cluster_pools(layout.labeled, layout.unlabeled, layout.clusters,
                      settings, logger)
        summary = select_pool(layout.unlabeled, layout.clusters,
                              layout.selection, settings, split_file, logger)
    barrier()
    return summary
