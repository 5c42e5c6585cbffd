"""s5_mm.utils.gpu_check.kmeans: faiss K-Means of the GPU check against the
CPU, and its objective."""
import numpy as np

from s5_mm.utils.gpu_check.kmeans import _inertia


def test_inertia_hand_computed():
    features = np.array([[0., 0.], [2., 0.], [0., 3.]])
    centroids = np.array([[0., 0.], [2., 2.]])
    # squared distances to the nearest centroid: 0, min(4, 4), min(9, 5)
    assert _inertia(features, centroids) == 9.0


def test_faiss_kmeans_path_compares_two_runs():
    """The faiss path with both sides on the CPU (what faiss-gpu is
    compared with on a GPU machine; moved from test_clustering's GPU test,
    which no machine with faiss-cpu ran): same objective, same
    assignments."""
    from s5_mm.utils.gpu_check.kmeans import run_faiss_kmeans
    out = run_faiss_kmeans(num=2000, k=8, gpu=False)
    assert out['status'] == 'ok', out
    assert out['inertia_ratio'] == 1.0 and out['assign_agreement'] == 1.0
