"""Entropy + diversity selection of unlabeled images (S5 stage 1).

Score a pool with any mmseg segmentor (mean softmax entropy + pooled
feature per image), cluster the labeled features with faiss K-Means, assign
every candidate to its nearest centroid, and fill per-cluster quotas with
the lowest-entropy candidates. See :mod:`s5_mm.selection.pipeline` and
``docs/selection.md``.
"""
from .cluster_select import cluster_pools, select_pool
from .clustering import assign, assign_npy, train_kmeans
from .entropy import entropy_map, masked_avg_pool, mean_entropy
from .layout import SelectionWorkDir, require_input
from .pipeline import merge_shards, run_selection, score_pool, score_pools
from .pool_check import check_pool
from .quota import allocate, largest_remainder, select_low_entropy
from .scoring import FeatureRecorder, build_scoring_pipeline, score_batch
from .settings import SelectionSettings
from .shard_scorer import ShardScorer, score_shards
from .split_cache import default_cache_dir, map_split
from .split_file import (IMG_SUFFIXES, PackedPaths, list_pool, parse_split,
                         parse_split_lines, read_split, read_split_file,
                         write_split_file)

__all__ = [
    'score_pool', 'score_pools', 'merge_shards', 'run_selection',
    'cluster_pools', 'select_pool',
    'SelectionWorkDir', 'require_input', 'train_kmeans', 'assign',
    'assign_npy', 'entropy_map', 'mean_entropy', 'masked_avg_pool',
    'list_pool', 'parse_split_lines', 'read_split_file', 'write_split_file',
    'IMG_SUFFIXES', 'largest_remainder', 'allocate', 'select_low_entropy',
    'FeatureRecorder', 'build_scoring_pipeline', 'score_batch',
    'SelectionSettings', 'ShardScorer', 'score_shards', 'check_pool',
    'PackedPaths', 'parse_split', 'read_split', 'map_split',
    'default_cache_dir'
]
