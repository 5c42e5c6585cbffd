"""s5_mm.selection.cluster_select: the cluster and select steps on
hand-made score folders (two well-separated groups of features)."""
import csv
import json
import logging
import os.path as osp

import numpy as np
import pytest

from s5_mm.selection.cluster_select import cluster_pools, select_pool
from s5_mm.selection.io import atomic_save_npy, atomic_write_text
from s5_mm.selection.scoring import SCORE_DTYPE
from s5_mm.selection.settings import SelectionSettings

# 7 pool images; image 5 was rejected by the scorer, so scores.npy holds
# indices 0-4 and 6. Images 0, 1, 2 look like group A, 3, 4, 6 like B.
POOL = ['a0.png', 'a1.png', 'a2.png', 'b3.png', 'b4.png', 'bad5.png',
        'b6.png']
INDEX = [0, 1, 2, 3, 4, 6]
ENTROPY = [0.5, 0.1, 0.3, 0.2, 0.9, 0.4]
A, B = np.eye(8, dtype=np.float32)[:2] * 3


def _score_dirs(tmp_path):
    rng = np.random.default_rng(0)
    noise = 0.05 * rng.standard_normal((10, 8)).astype(np.float32)
    labeled = np.stack([A, A, A, B]) + noise[:4]  # 3 of A, 1 of B
    unlabeled = np.stack([A, A, A, B, B, B]) + noise[4:]
    unl, lab = str(tmp_path / 'unlabeled'), str(tmp_path / 'labeled')
    atomic_save_npy(osp.join(lab, 'features.npy'), labeled.astype(np.float16))
    atomic_save_npy(osp.join(unl, 'features.npy'),
                    unlabeled.astype(np.float16))
    scores = np.empty(6, SCORE_DTYPE)
    scores['index'], scores['entropy'] = INDEX, ENTROPY
    atomic_save_npy(osp.join(unl, 'scores.npy'), scores)
    atomic_write_text(osp.join(unl, 'pool.txt'), '\n'.join(POOL) + '\n')
    return unl, lab


def _logger():
    logger = logging.getLogger('test_cluster_select')
    logger.handlers[:] = []
    logger.propagate = False
    return logger


@pytest.fixture
def clustered(tmp_path):
    unl, lab = _score_dirs(tmp_path)
    clusters = str(tmp_path / 'clusters')
    info = cluster_pools(lab, unl, clusters,
                         SelectionSettings(num_clusters=2, gpu='off'),
                         logger=_logger())
    return unl, clusters, info


def test_cluster_step(clustered):
    unl, clusters, info = clustered
    lab_ids = np.load(osp.join(clusters, 'labeled_cluster.npy'))
    unl_ids = np.load(osp.join(clusters, 'unlabeled_cluster.npy'))
    a, b = lab_ids[0], lab_ids[3]
    assert a != b and lab_ids.tolist() == [a, a, a, b]
    assert unl_ids.tolist() == [a, a, a, b, b, b]
    sizes = [0, 0]
    sizes[a], sizes[b] = 3, 1
    assert info == dict(num_clusters=2, niter=20, seed=0, normalize=True,
                        labeled_sizes=sizes, unlabeled_sizes=[3, 3])
    assert json.load(open(osp.join(clusters, 'clusters.json'))) == info
    centroids = np.load(osp.join(clusters, 'centroids.npy'))
    assert centroids.shape == (2, 8)
    # spherical K-Means: the unit vectors of the two groups
    np.testing.assert_allclose(centroids[a], A / 3, atol=0.05)
    np.testing.assert_allclose(centroids[b], B / 3, atol=0.05)


def test_select_step_equal_quotas_by_hand(clustered, tmp_path):
    unl, clusters, info = clustered
    out = str(tmp_path / 'selection')
    extra = str(tmp_path / 'ann' / 'split.txt')
    summary = select_pool(unl, clusters, out,
                          SelectionSettings(budget=4, quota_mode='equal'),
                          split_file=extra, logger=_logger())
    a = int(np.load(osp.join(clusters, 'labeled_cluster.npy'))[0])
    # 2 per cluster, lowest entropy first: A -> a1 (0.1), a2 (0.3);
    # B -> b3 (0.2), b6 (0.4); in pool order
    chosen = ['a1.png', 'a2.png', 'b3.png', 'b6.png']
    assert open(osp.join(out, 'split.txt')).read().splitlines() == chosen
    assert open(extra, 'rb').read() == open(osp.join(out, 'split.txt'),
                                            'rb').read()
    assert summary == dict(
        budget=4, quota_mode='equal', selected=4, candidates=6,
        weights=[1.0, 1.0], quota=[2, 2], fill=[2, 2], available=[3, 3],
        mean_entropy_pool=pytest.approx(2.4 / 6),
        mean_entropy_selected=pytest.approx(1.0 / 4))
    rows = list(csv.reader(open(osp.join(out, 'selection.csv'))))
    assert rows[0] == ['path', 'entropy', 'cluster', 'rank_in_cluster',
                       'selected']
    ca, cb = str(a), str(1 - a)
    assert rows[1:] == [
        ['a0.png', '0.500000', ca, '2', '0'],
        ['a1.png', '0.100000', ca, '0', '1'],
        ['a2.png', '0.300000', ca, '1', '1'],
        ['b3.png', '0.200000', cb, '0', '1'],
        ['b4.png', '0.900000', cb, '2', '0'],
        ['b6.png', '0.400000', cb, '1', '1']]
    assert json.load(open(osp.join(out, 'selection.json'))) == summary
    assert open(osp.join(out, 'report.png'), 'rb').read(4) == b'\x89PNG'


def test_select_step_proportional_quotas_and_a_short_pool(clustered,
                                                          tmp_path):
    unl, clusters, info = clustered
    a = int(np.load(osp.join(clusters, 'labeled_cluster.npy'))[0])
    # labeled sizes 3 : 1 -> budget 4 gives quotas 3 and 1
    summary = select_pool(unl, clusters, str(tmp_path / 's'),
                          SelectionSettings(budget=4), logger=_logger())
    assert summary['quota'][a] == 3 and summary['quota'][1 - a] == 1
    assert open(tmp_path / 's' / 'split.txt').read().splitlines() == [
        'a0.png', 'a1.png', 'a2.png', 'b3.png']
    # a budget above the 6 candidates: all selected, with a warning
    logger = _logger()
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    summary = select_pool(unl, clusters, str(tmp_path / 's'),
                          SelectionSettings(budget=10), logger=logger)
    assert summary['selected'] == 6 and summary['fill'] == [3, 3]
    warnings = [r.getMessage() for r in records
                if r.levelno == logging.WARNING]
    assert warnings == ['only 6 scored images for a budget of 10: all are '
                        'selected']


def test_inputs_out_of_order_are_named(tmp_path):
    unl, lab = _score_dirs(tmp_path)
    clusters = str(tmp_path / 'clusters')
    with pytest.raises(FileNotFoundError, match='clusters.json not found: '
                       'it is written by the cluster step'):
        select_pool(unl, clusters, str(tmp_path / 's'),
                    SelectionSettings(budget=2), logger=_logger())
    with pytest.raises(ValueError, match=r"\['num_clusters'\] must be set"):
        cluster_pools(lab, unl, clusters, SelectionSettings(),
                      logger=_logger())
    cluster_pools(lab, unl, clusters,
                  SelectionSettings(num_clusters=2, gpu='off'),
                  logger=_logger())
    np.save(osp.join(clusters, 'unlabeled_cluster.npy'), np.zeros(5, int))
    with pytest.raises(ValueError, match='assigns 5 images but .* scored 6; '
                       're-run the cluster step'):
        select_pool(unl, clusters, str(tmp_path / 's'),
                    SelectionSettings(budget=2), logger=_logger())
