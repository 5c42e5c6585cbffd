"""K-Means on labeled features and nearest-centroid assignment, with faiss.

faiss runs on GPU when one is visible to it (``faiss.get_num_gpus() > 0``)
and the caller does not forbid it, on CPU otherwise. The assignment of a
large pool streams a ``.npy`` feature file in row chunks (see
:func:`s5_mm.selection.io.iter_npy_chunks`), so memory is bounded by the
chunk size, not the pool size.
"""
from typing import Optional, Tuple

import faiss
import numpy as np

from .io import iter_npy_chunks, npy_header


def gpu_available() -> bool:
    """Whether this faiss build sees a GPU."""
    return hasattr(faiss, 'get_num_gpus') and faiss.get_num_gpus() > 0


def resolve_gpu(gpu: Optional[bool]) -> bool:
    """``None`` = use a GPU if faiss sees one; True demands one."""
    if gpu is None:
        return gpu_available()
    if gpu and not gpu_available():
        raise RuntimeError('faiss GPU requested but this faiss build sees no '
                           'GPU; install faiss-gpu or pass gpu=False')
    return bool(gpu)


def _check_finite(scores: np.ndarray, start: int = 0) -> None:
    """A NaN/inf feature row gives a NaN/inf search score: name the rows."""
    if not np.isfinite(scores).all():
        bad = (np.nonzero(~np.isfinite(scores[:, 0]))[0][:5] + start).tolist()
        raise ValueError(f'features of rows {bad} are NaN/inf; the scorer '
                         'produced invalid features (e.g. fp16 overflow), '
                         'rescore those images')


def train_kmeans(features: np.ndarray,
                 num_clusters: int,
                 niter: int = 20,
                 seed: int = 0,
                 normalize: bool = True,
                 gpu: Optional[bool] = None) -> np.ndarray:
    """K-Means centroids of (labeled) features with ``faiss.Kmeans``.

    Args:
        features (np.ndarray): ``(N, D)`` features (any float dtype).
        num_clusters (int): M, the number of clusters.
        niter (int): K-Means iterations. Defaults to 20.
        seed (int): faiss random seed (fixed => reproducible).
        normalize (bool): L2-normalise features and use spherical K-Means
            (cosine geometry). Defaults to True.
        gpu (bool, optional): None = GPU if available.

    Returns:
        np.ndarray: ``(M, D)`` float32 centroids.
    """
    if features.ndim != 2 or features.shape[0] == 0:
        raise ValueError(f'need a non-empty (N, D) feature array, got shape '
                         f'{features.shape}; score the labeled set first')
    if num_clusters < 1 or num_clusters > features.shape[0]:
        raise ValueError(f'num_clusters={num_clusters} must be in [1, '
                         f'{features.shape[0]}] (the number of labeled '
                         'features); lower it or add labeled images')
    x = np.array(features, dtype=np.float32, order='C')
    if normalize:
        faiss.normalize_L2(x)
    km = faiss.Kmeans(
        x.shape[1],
        num_clusters,
        niter=niter,
        seed=seed,
        spherical=normalize,
        gpu=resolve_gpu(gpu),
        verbose=False)
    km.train(x)
    return np.ascontiguousarray(km.centroids, dtype=np.float32)


def build_index(centroids: np.ndarray,
                normalize: bool = True,
                gpu: Optional[bool] = None):
    """Flat faiss index holding the centroids (on all GPUs if used).

    With ``normalize`` the centroids are L2-normalised and searched by inner
    product: for a unit centroid ``c``, ``argmin ||x/|x| - c||`` equals
    ``argmax x.c``, so candidates need no normalisation pass. Otherwise a
    plain L2 index.
    """
    centroids = np.array(centroids, dtype=np.float32, order='C')
    if normalize:
        faiss.normalize_L2(centroids)
        index = faiss.IndexFlatIP(centroids.shape[1])
    else:
        index = faiss.IndexFlatL2(centroids.shape[1])
    index.add(centroids)
    if resolve_gpu(gpu):
        index = faiss.index_cpu_to_all_gpus(index)
    return index


def assign(features: np.ndarray,
           centroids: np.ndarray,
           normalize: bool = True,
           gpu: Optional[bool] = None) -> np.ndarray:
    """Nearest centroid of every row of an in-memory feature array.

    Returns:
        np.ndarray: ``(N, )`` int32 cluster ids.
    """
    index = build_index(centroids, normalize, gpu)
    scores, ids = index.search(
        np.ascontiguousarray(features, dtype=np.float32), 1)
    _check_finite(scores)
    return ids[:, 0].astype(np.int32)


def assign_npy(path: str,
               centroids: np.ndarray,
               normalize: bool = True,
               gpu: Optional[bool] = None,
               chunk_rows: int = 32768) -> Tuple[np.ndarray, np.ndarray]:
    """Nearest centroid of every row of a ``.npy`` feature file, streamed.

    Args:
        path (str): ``(N, D)`` features (float16 or float32).
        centroids (np.ndarray): ``(M, D)`` centroids.
        normalize (bool): L2-normalise rows first (match :func:`train_kmeans`).
        gpu (bool, optional): None = GPU if available.
        chunk_rows (int): Rows read and searched at a time.

    Returns:
        tuple: ``(N, )`` int32 cluster ids and ``(N, )`` float32 search
        scores (inner product with the unit centroid if ``normalize``, else
        squared L2 distance).
    """
    shape, _, _ = npy_header(path)
    if len(shape) != 2 or shape[1] != centroids.shape[1]:
        raise ValueError(f'{path}: features of shape {shape} do not match '
                         f'centroids of dim {centroids.shape[1]}; were both '
                         'scored with the same feature_module?')
    index = build_index(centroids, normalize, gpu)
    ids = np.empty(shape[0], dtype=np.int32)
    dist = np.empty(shape[0], dtype=np.float32)
    buf = np.empty((min(chunk_rows, max(shape[0], 1)), shape[1]), np.float32)
    start = 0
    for chunk in iter_npy_chunks(path, chunk_rows):
        x = buf[:len(chunk)]
        x[...] = chunk  # float32, in the reused buffer
        d, i = index.search(x, 1)
        _check_finite(d, start)
        n = x.shape[0]
        ids[start:start + n] = i[:, 0]
        dist[start:start + n] = d[:, 0]
        start += n
    return ids, dist
