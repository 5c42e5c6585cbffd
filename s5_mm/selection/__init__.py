"""Entropy + diversity selection of unlabeled images (issue 7).

Score a pool with any mmseg segmentor (mean softmax entropy + pooled
feature per image), cluster the labeled features with faiss K-Means, assign
every candidate to its nearest centroid, and fill per-cluster quotas with
the lowest-entropy candidates. See :mod:`s5_mm.selection.api`.
"""
from .api import merge_shards, run_selection, score_pool
from .clustering import assign, assign_npy, train_kmeans
from .entropy import entropy_map, masked_avg_pool, mean_entropy
from .io import list_pool, write_split_file
from .quota import allocate, largest_remainder, select_low_entropy
from .scoring import FeatureRecorder, build_scoring_pipeline, score_batch
from .steps import cluster_pools, select_pool

__all__ = [
    'score_pool', 'merge_shards', 'run_selection', 'cluster_pools',
    'select_pool', 'train_kmeans', 'assign', 'assign_npy', 'entropy_map',
    'mean_entropy', 'masked_avg_pool', 'list_pool', 'write_split_file',
    'largest_remainder', 'allocate', 'select_low_entropy', 'FeatureRecorder',
    'build_scoring_pipeline', 'score_batch'
]
