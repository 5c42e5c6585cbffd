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


def run_faiss_kmeans(num: int = 8000, dim: int = 64, k: int = 32,
                     gpu: bool = True) -> Dict[str, Any]:
    """Cluster ``num`` features drawn around ``k`` centres with s5_mm's
    K-Means on the GPU and on the CPU, and assign every feature to the CPU
    centroids on both.

    Args:
        gpu (bool): False runs the "GPU" side on the CPU too (the test of
            this check on a machine without a GPU).

    Returns:
        dict: ``status`` ('failed' when the GPU centroids are not finite,
        the GPU objective is more than :data:`INERTIA_TOLERANCE` above the
        CPU one, or one nearest-centroid assignment differs),
        ``seconds_gpu``, ``seconds_cpu``, ``inertia_ratio``,
        ``assign_agreement``.
    """
    import time

    from s5_mm.selection.clustering import assign, train_kmeans
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(k, dim)).astype(np.float32) * 4
    features = (centres[rng.integers(0, k, num)] +
                rng.normal(size=(num, dim)).astype(np.float32))
    out: Dict[str, Any] = {}
    t = time.perf_counter()
    gpu_cent = train_kmeans(features, k, seed=0, normalize=False, gpu=gpu)
    out['seconds_gpu'] = round(time.perf_counter() - t, 3)
    t = time.perf_counter()
    cpu_cent = train_kmeans(features, k, seed=0, normalize=False,
                            gpu=False)
    out['seconds_cpu'] = round(time.perf_counter() - t, 3)
    if not np.isfinite(gpu_cent).all():
        return dict(status='failed', reason='GPU centroids not finite', **out)
    ratio = _inertia(features, gpu_cent) / _inertia(features, cpu_cent)
    out['inertia_ratio'] = round(ratio, 4)
    same = assign(features, cpu_cent, normalize=False, gpu=gpu) == assign(
        features, cpu_cent, normalize=False, gpu=False)
    out['assign_agreement'] = float(same.mean())
    if not same.all():
        return dict(status='failed', reason=f'{int((~same).sum())} '
                    'nearest-centroid assignments differ between GPU and '
                    'CPU', **out)
    if ratio > 1 + INERTIA_TOLERANCE:
        return dict(status='failed', reason=f'GPU K-Means objective '
                    f'{ratio:.3f} x the CPU one', **out)
    return dict(status='ok', **out)
