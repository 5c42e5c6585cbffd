"""The cluster and select steps of the selector (numpy + faiss +
matplotlib, no torch).

``cluster_pools`` -> ``<cluster_dir>/{centroids.npy, labeled_cluster.npy,
unlabeled_cluster.npy, clusters.json}``;
``select_pool`` -> ``<select_dir>/{split.txt, selection.csv,
selection.json, report.png}``.
Both read the outputs of :func:`s5_mm.selection.pipeline.score_pool` (folders
in :mod:`s5_mm.selection.layout`); a missing input is an error naming the
file and the step to run first. This module does not import torch, so a
process that only clusters and selects (``tools/select_data.py
cluster|select``) stays small.
"""
import csv
import logging
import os.path as osp
from typing import Dict, Optional, Union

import numpy as np
from mmengine import fileio
from mmengine.logging import print_log

from .clustering import assign, assign_npy, train_kmeans
from .io import atomic_open, atomic_save_npy, atomic_write_json
from .layout import require_input
from .quota import select_low_entropy
from .report import plot_report
from .settings import SelectionSettings
from .split_file import read_split, write_split_file


def cluster_pools(labeled_dir: str,
                  unlabeled_dir: str,
                  cluster_dir: str,
                  settings: SelectionSettings,
                  logger: Union[str, logging.Logger] = 'current') -> dict:
    """K-Means on the labeled features, nearest-centroid ids for both pools.

    Args:
        labeled_dir, unlabeled_dir (str): Score folders of the two pools.
        cluster_dir (str): Output folder.
        settings (SelectionSettings): ``num_clusters`` (required),
            ``niter``, ``seed``, ``normalize``, ``gpu``, ``chunk_rows``.
        logger (str | logging.Logger): Gets the labeled cluster sizes (see
            :func:`select_pool`).

    Returns:
        dict: ``clusters.json`` content (settings + labeled cluster sizes).
    """
    settings.require('num_clusters')
    num_clusters, normalize = settings.num_clusters, settings.normalize
    gpu, niter, seed = settings.faiss_gpu, settings.niter, settings.seed
    labeled = np.load(
        require_input(osp.join(labeled_dir, 'features.npy'), 'score'))
    centroids = train_kmeans(labeled, num_clusters, niter, seed, normalize,
                             gpu)
    labeled_ids = assign(labeled, centroids, normalize, gpu)
    unl_path = require_input(
        osp.join(unlabeled_dir, 'features.npy'), 'score')
    unl_ids, _ = assign_npy(unl_path, centroids, normalize, gpu,
                            settings.chunk_rows)
    atomic_save_npy(osp.join(cluster_dir, 'centroids.npy'), centroids)
    atomic_save_npy(osp.join(cluster_dir, 'labeled_cluster.npy'), labeled_ids)
    atomic_save_npy(osp.join(cluster_dir, 'unlabeled_cluster.npy'), unl_ids)
    info = dict(
        num_clusters=num_clusters, niter=niter, seed=seed,
        normalize=normalize,
        labeled_sizes=np.bincount(labeled_ids,
                                  minlength=num_clusters).tolist(),
        unlabeled_sizes=np.bincount(unl_ids, minlength=num_clusters).tolist())
    atomic_write_json(osp.join(cluster_dir, 'clusters.json'), info)
    print_log(f'labeled cluster sizes: {info["labeled_sizes"]}',
              logger=logger)
    return info


def select_pool(unlabeled_dir: str,
                cluster_dir: str,
                select_dir: str,
                settings: SelectionSettings,
                split_file: Optional[str] = None,
                logger: Union[str, logging.Logger] = 'current') -> Dict:
    """Quota + low-entropy-first selection; writes split, CSV, JSON, PNG.

    Args:
        unlabeled_dir (str): Score folder of the unlabeled pool.
        cluster_dir (str): Output folder of :func:`cluster_pools`.
        select_dir (str): Output folder.
        settings (SelectionSettings): ``budget`` (required, the number of
            images N) and ``quota_mode`` (``'proportional'`` to labeled
            cluster sizes, or ``'equal'``).
        split_file (str, optional): Also write the split file here (e.g. the
            ``ann_file`` the unlabeled dataset reads).
        logger (str | logging.Logger): Where warnings go (``print_log``);
            a plain ``logging.Logger`` keeps the step free of torch (an
            MMLogger asks mmengine.dist for the rank, which imports torch).

    Returns:
        dict: ``selection.json`` content.
    """
    settings.require('budget')
    budget, quota_mode = settings.budget, settings.quota_mode
    scores = np.load(
        require_input(osp.join(unlabeled_dir, 'scores.npy'), 'score'))
    rel_paths = list(read_split(  # as scored: one line per scored index
        require_input(osp.join(unlabeled_dir, 'pool.txt'), 'score'),
        keep_duplicates=True))
    info = fileio.load(
        require_input(osp.join(cluster_dir, 'clusters.json'), 'cluster'))
    cluster = np.load(
        require_input(
            osp.join(cluster_dir, 'unlabeled_cluster.npy'), 'cluster'))
    if len(cluster) != len(scores):
        raise ValueError(f'{cluster_dir} assigns {len(cluster)} images but '
                         f'{unlabeled_dir} scored {len(scores)}; re-run the '
                         'cluster step')
    weights = (np.asarray(info['labeled_sizes'], np.float64)
               if quota_mode == 'proportional' else
               np.ones(info['num_clusters']))
    res = select_low_entropy(scores['entropy'], cluster, budget, weights)
    if len(res['selected']) < budget:
        print_log(f'only {len(res["selected"])} scored images for a budget '
                  f'of {budget}: all are selected', logger=logger,
                  level=logging.WARNING)
    chosen = [rel_paths[i] for i in scores['index'][res['selected']].tolist()]
    write_split_file(osp.join(select_dir, 'split.txt'), chosen)
    if split_file is not None:
        write_split_file(split_file, chosen)
    is_sel = np.zeros(len(scores), dtype=bool)
    is_sel[res['selected']] = True
    with atomic_open(osp.join(select_dir, 'selection.csv'), 'w',
                     encoding='utf-8', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['path', 'entropy', 'cluster', 'rank_in_cluster',
                         'selected'])
        for k, (i, e) in enumerate(zip(scores['index'].tolist(),
                                       scores['entropy'].tolist())):
            writer.writerow([rel_paths[i], f'{e:.6f}', int(cluster[k]),
                             int(res['rank'][k]), int(is_sel[k])])
    summary = dict(
        budget=budget, quota_mode=quota_mode, selected=len(chosen),
        candidates=int(len(scores)), weights=weights.tolist(),
        quota=res['quota'].tolist(), fill=res['fill'].tolist(),
        available=res['available'].tolist(),
        mean_entropy_pool=float(scores['entropy'].mean()),
        mean_entropy_selected=float(
            scores['entropy'][res['selected']].mean()))
    atomic_write_json(osp.join(select_dir, 'selection.json'), summary)
    plot_report(osp.join(select_dir, 'report.png'), scores['entropy'],
                scores['entropy'][res['selected']], res['quota'], res['fill'],
                res['available'])
    print_log(
        f'selected {len(chosen)} of {len(scores)} images (mean entropy '
        f'{summary["mean_entropy_selected"]:.4f} vs pool '
        f'{summary["mean_entropy_pool"]:.4f}) -> '
        f'{osp.join(select_dir, "split.txt")} (report: '
        f'{osp.join(select_dir, "report.png")})', logger=logger)
    return summary

