"""The GPU check's faiss path: K-Means on the GPU (faiss-gpu) against the
same K-Means on the CPU."""
from typing import Any, Dict

import numpy as np

# K-Means on GPU and CPU start from the same seed but reduce in another
# order: their objective (sum of squared distances) agrees closely
INERTIA_TOLERANCE = 0.05


def _inertia(features: np.ndarray, centroids: np.ndarray) -> float:
    d = ((features[:, None, :] - centroids[None]) ** 2).sum(-1)
    return float(d.min(1).sum())


def run_faiss_kmeans(num: int = 8000, dim: int = 64,
                     k: int = 32) -> Dict[str, Any]:
    """Cluster ``num`` random ``dim``-d features into ``k`` clusters with
    s5_mm's K-Means on the GPU and on the CPU.

    Returns:
        dict: ``status`` ('failed' when the GPU centroids are not finite or
        the GPU objective is more than :data:`INERTIA_TOLERANCE` above the
        CPU one), ``seconds_gpu``, ``seconds_cpu``, ``inertia_ratio``.
    """
    import time

    from s5_mm.selection.clustering import train_kmeans
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(k, dim)).astype(np.float32) * 4
    features = (centres[rng.integers(0, k, num)] +
                rng.normal(size=(num, dim)).astype(np.float32))
    out: Dict[str, Any] = {}
    t = time.perf_counter()
    gpu = train_kmeans(features, k, seed=0, normalize=False, gpu=True)
    out['seconds_gpu'] = round(time.perf_counter() - t, 3)
    t = time.perf_counter()
    cpu = train_kmeans(features, k, seed=0, normalize=False, gpu=False)
    out['seconds_cpu'] = round(time.perf_counter() - t, 3)
    if not np.isfinite(gpu).all():
        return dict(status='failed', reason='GPU centroids not finite', **out)
    ratio = _inertia(features, gpu) / _inertia(features, cpu)
    out['inertia_ratio'] = round(ratio, 4)
    if ratio > 1 + INERTIA_TOLERANCE:
        return dict(status='failed', reason=f'GPU K-Means objective '
                    f'{ratio:.3f} x the CPU one', **out)
    return dict(status='ok', **out)
