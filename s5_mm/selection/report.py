"""PNG report of a selection: entropy histograms and per-cluster fill."""
import numpy as np
from matplotlib.figure import Figure

from .io import atomic_open


def plot_report(path: str, pool_entropy: np.ndarray,
                selected_entropy: np.ndarray, quota: np.ndarray,
                fill: np.ndarray, available: np.ndarray,
                title: str = 'entropy + diversity selection') -> None:
    """Write a two-panel PNG (matplotlib Agg, no display needed).

    Left: entropy histogram of the pool and of the selection (same bins).
    Right: per cluster, the candidates available, the initial quota and the
    final fill (after redistribution).

    Args:
        path (str): Output PNG, written atomically.
        pool_entropy (np.ndarray): Entropies of every scored pool image.
        selected_entropy (np.ndarray): Entropies of the selected images.
        quota, fill, available (np.ndarray): ``(M, )`` per-cluster counts.
        title (str): Figure title.
    """
    fig = Figure(figsize=(11, 4), dpi=80)
    ax1, ax2 = fig.subplots(1, 2)
    lo = float(pool_entropy.min()) if len(pool_entropy) else 0.0
    hi = float(pool_entropy.max()) if len(pool_entropy) else 1.0
    bins = np.linspace(lo, hi if hi > lo else lo + 1e-3, 41)
    ax1.hist(pool_entropy, bins=bins, color='0.6',
             label=f'pool ({len(pool_entropy)})')
    ax1.hist(selected_entropy, bins=bins, color='tab:blue', alpha=0.8,
             label=f'selected ({len(selected_entropy)})')
    ax1.set_xlabel('mean pixel entropy (nats)')
    ax1.set_ylabel('images')
    ax1.set_title('entropy: pool vs selection')
    ax1.legend()
    x = np.arange(len(quota))
    ax2.bar(x, available, color='0.85', label='available')
    ax2.bar(x, fill, color='tab:blue', width=0.6, label='selected (fill)')
    ax2.scatter(x, quota, color='tab:red', marker='_', s=120, zorder=3,
                label='initial quota')
    if len(quota) <= 32:
        ax2.set_xticks(x)
    ax2.set_xlabel('cluster')
    ax2.set_ylabel('images')
    ax2.set_title('per-cluster quota and fill')
    ax2.legend()
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_open(path, 'wb') as f:
        fig.savefig(f, format='png', metadata={'Software': None})
