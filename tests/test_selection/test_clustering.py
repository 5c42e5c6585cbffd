"""faiss K-Means and streamed nearest-centroid assignment (CPU; GPU if any)."""
import numpy as np
import pytest

from s5_mm.selection.clustering import (assign, assign_npy, gpu_available,
                                        train_kmeans)


def _blobs(n_per, centers, noise, seed=0):
    rng = np.random.default_rng(seed)
    x = np.concatenate(
        [c + noise * rng.standard_normal((n_per, len(c))) for c in centers])
    return x.astype(np.float32), np.repeat(np.arange(len(centers)), n_per)


def _brute_force(x, centroids, normalize):
    x = x.astype(np.float64)
    c = centroids.astype(np.float64)
    if normalize:
        x = x / np.linalg.norm(x, axis=1, keepdims=True)
        c = c / np.linalg.norm(c, axis=1, keepdims=True)
    d = ((x[:, None, :] - c[None]) ** 2).sum(-1)
    return d.argmin(1)


def test_kmeans_recovers_separated_blobs():
    centers = np.eye(4, 16, dtype=np.float32) * 10
    x, truth = _blobs(50, centers, 0.3)
    cent = train_kmeans(x, 4, niter=20, seed=0)
    ids = assign(x, cent)
    # each blob maps to exactly one cluster and clusters are distinct
    mapping = {t: set(ids[truth == t].tolist()) for t in range(4)}
    assert all(len(v) == 1 for v in mapping.values())
    assert len({next(iter(v)) for v in mapping.values()}) == 4
    assert np.bincount(ids, minlength=4).tolist() == [50] * 4
    # spherical K-Means: unit-norm centroids
    np.testing.assert_allclose(np.linalg.norm(cent, axis=1), 1, rtol=1e-5)


@pytest.mark.parametrize('normalize', [True, False])
def test_assign_npy_streamed_equals_brute_force(tmp_path, normalize):
    rng = np.random.default_rng(1)
    feats = rng.standard_normal((1003, 24)).astype(np.float16)
    cent = rng.standard_normal((5, 24)).astype(np.float32)
    path = str(tmp_path / 'f.npy')
    np.save(path, feats)
    ids, _ = assign_npy(path, cent, normalize=normalize, chunk_rows=100)
    expected = _brute_force(feats.astype(np.float32), cent, normalize)
    assert ids.tolist() == expected.tolist()
    assert assign(feats, cent, normalize).tolist() == expected.tolist()


def test_bad_features_are_reported(tmp_path):
    cent = np.eye(3, 4, dtype=np.float32)
    feats = np.ones((6, 4), np.float16)
    feats[4, 1] = np.inf
    np.save(tmp_path / 'f.npy', feats)
    with pytest.raises(ValueError, match=r'rows \[4\]'):
        assign_npy(str(tmp_path / 'f.npy'), cent, chunk_rows=4)
    with pytest.raises(ValueError, match='do not match centroids of dim 5'):
        assign_npy(str(tmp_path / 'f.npy'), np.eye(3, 5, dtype=np.float32))
    with pytest.raises(ValueError, match='num_clusters=7'):
        train_kmeans(np.ones((6, 4), np.float32), 7)


def test_gpu_demand_without_gpu_is_an_error():
    if gpu_available():
        pytest.skip('a GPU exists')
    with pytest.raises(RuntimeError, match='sees no GPU'):
        assign(np.ones((2, 3), np.float32), np.eye(2, 3, dtype=np.float32),
               gpu=True)
