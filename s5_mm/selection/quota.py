"""Per-cluster quotas and low-entropy-first selection (pure numpy).

Rules (the S5 paper leaves them open; this is our definition):

1. **Quotas.** The budget N is split over the M clusters in proportion to
   their weights (labeled cluster sizes for ``'proportional'``, all ones for
   ``'equal'``) by largest-remainder rounding: every cluster gets
   ``floor(N * w_c / sum(w))``, and the images still missing go one each to
   the clusters with the largest fractional parts (ties: lower cluster id).
   Quotas therefore sum exactly to N.
2. **Fill.** A cluster takes its candidates by increasing entropy (ties:
   lower pool index) until its quota is met or it runs out.
3. **Redistribution.** The quota left unused by exhausted clusters is split
   again, with the same largest-remainder rule and the *original* weights,
   over the clusters that still have candidates; this repeats until the
   budget is met or no cluster has any candidate left (then fewer than N
   images are selected). If every cluster with candidates left has weight
   0, the remainder is split equally among them.
"""
from typing import Tuple

import numpy as np


def largest_remainder(total: int, weights: np.ndarray) -> np.ndarray:
    """Split the integer ``total`` in proportion to ``weights``.

    Args:
        total (int): Non-negative integer to split.
        weights (np.ndarray): ``(M, )`` non-negative weights, not all zero.

    Returns:
        np.ndarray: ``(M, )`` int64 parts summing to ``total``.
    """
    w = np.asarray(weights, dtype=np.float64)
    if total < 0 or (w < 0).any() or not np.isfinite(w).all():
        raise ValueError(f'need total >= 0 and finite weights >= 0, got '
                         f'total={total}, weights={w.tolist()}')
    if w.sum() <= 0:
        raise ValueError('all quota weights are 0: nothing to split the '
                         'budget by')
    exact = total * w / w.sum()
    parts = np.floor(exact).astype(np.int64)
    missing = int(total - parts.sum())
    if missing:
        frac = exact - parts
        order = np.lexsort((np.arange(len(w)), -frac))
        parts[order[:missing]] += 1
    return parts


def allocate(budget: int, weights: np.ndarray,
             available: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Quotas and final fill per cluster, with redistribution.

    Args:
        budget (int): Total number of images N to select.
        weights (np.ndarray): ``(M, )`` quota weights.
        available (np.ndarray): ``(M, )`` candidates per cluster.

    Returns:
        tuple: ``quota`` (initial quotas, sum N) and ``fill`` (images taken
        per cluster after redistribution, sum ``min(N, sum(available))``).
    """
    weights = np.asarray(weights, dtype=np.float64)
    available = np.asarray(available, dtype=np.int64)
    if weights.shape != available.shape:
        raise ValueError(f'{len(weights)} weights for {len(available)} '
                         'clusters')
    quota = largest_remainder(int(budget), weights)
    fill = np.minimum(quota, available)
    left = min(int(budget), int(available.sum())) - int(fill.sum())
    while left > 0:
        room = fill < available
        w = np.where(room, weights, 0.0)
        if w.sum() <= 0:
            w = room.astype(np.float64)
        add = np.minimum(largest_remainder(left, w), available - fill)
        fill += add
        left -= int(add.sum())
    return quota, fill


def rank_in_cluster(entropy: np.ndarray, cluster: np.ndarray,
                    num_clusters: int) -> np.ndarray:
    """0-based position of every candidate in its cluster's entropy order.

    Order: increasing entropy, ties by increasing position in the arrays.
    """
    n = len(entropy)
    if len(cluster) != n:
        raise ValueError(f'{n} entropies but {len(cluster)} cluster ids')
    if n and np.isnan(entropy).any():
        raise ValueError('entropy contains NaN; rescore the pool')
    if n and (cluster.min() < 0 or cluster.max() >= num_clusters):
        raise ValueError(f'cluster ids must be in [0, {num_clusters})')
    order = np.lexsort((np.arange(n), entropy, cluster))
    counts = np.bincount(cluster, minlength=num_clusters)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - starts[cluster[order]]
    return rank


def select_low_entropy(entropy: np.ndarray,
                       cluster: np.ndarray,
                       budget: int,
                       weights: np.ndarray) -> dict:
    """Entropy + diversity selection of ``budget`` candidates.

    Args:
        entropy (np.ndarray): ``(N, )`` mean entropies.
        cluster (np.ndarray): ``(N, )`` int cluster ids in ``[0, M)``.
        budget (int): Number of images to select.
        weights (np.ndarray): ``(M, )`` quota weights.

    Returns:
        dict: ``selected`` (sorted positions of the chosen candidates),
        ``rank`` (position of each candidate in its cluster's order),
        ``quota``, ``fill`` and ``available`` per cluster.
    """
    num_clusters = len(weights)
    cluster = np.asarray(cluster, dtype=np.int64)
    available = np.bincount(cluster, minlength=num_clusters)
    quota, fill = allocate(budget, weights, available)
    rank = rank_in_cluster(np.asarray(entropy), cluster, num_clusters)
    selected = np.nonzero(rank < fill[cluster])[0]
    return dict(selected=selected, rank=rank, quota=quota, fill=fill,
                available=available)
