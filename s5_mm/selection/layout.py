"""The selector's work-dir layout, defined once.

::

    WORK_DIR/
      unlabeled/   score step: pool.txt, meta.json, features.npy, scores.npy,
      labeled/       scores.csv, rejects.tsv, summary.json, shards/
      clusters/    cluster step: centroids.npy, labeled_cluster.npy,
                     unlabeled_cluster.npy, clusters.json
      selection/   select step: split.txt, selection.csv, selection.json,
                     report.png

The tool (``tools/select_data.py``) and
:class:`~s5_mm.engine.hooks.EntropyDiversitySelectorHook` both use it through
:func:`s5_mm.selection.pipeline.run_selection`. No torch here: the cluster
and select steps stay small.
"""
import os.path as osp
from dataclasses import dataclass

STEPS = ('score', 'cluster', 'select')
# how to run each step, for the error that names a missing input
_STEP_COMMANDS = dict(
    score='tools/select_data.py score CONFIG CHECKPOINT --work-dir WORK_DIR '
    '--pool-root POOL --labeled-root LABELED',
    cluster='tools/select_data.py cluster --work-dir WORK_DIR '
    '--num-clusters M')


@dataclass(frozen=True)
class SelectionWorkDir:
    """Folders of one selection run under ``root``.

    Args:
        root (str): The work dir (``--work-dir`` of the tool,
            ``work_dir/<out_dir>/iter_<k>`` of the hook).
    """
    root: str

    @property
    def unlabeled(self) -> str:
        """Score folder of the unlabeled pool."""
        return osp.join(self.root, 'unlabeled')

    @property
    def labeled(self) -> str:
        """Score folder of the labeled images."""
        return osp.join(self.root, 'labeled')

    @property
    def clusters(self) -> str:
        """Output folder of the cluster step."""
        return osp.join(self.root, 'clusters')

    @property
    def selection(self) -> str:
        """Output folder of the select step."""
        return osp.join(self.root, 'selection')


def require_input(path: str, step: str) -> str:
    """Return ``path``; if it is missing, raise an error that names it and
    the step that writes it.

    Args:
        path (str): An input file of a step.
        step (str): The step that writes it (one of :data:`STEPS`).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'{path} not found: it is written by the {step} step; run '
            f'`{_STEP_COMMANDS[step]}` (to completion) first')
    return path
