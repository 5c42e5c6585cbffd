"""A shim: mmrotate's ``eval_rbbox_map`` without its process pool.

mmrotate 1.x (``mmrotate/evaluation/functional/mean_ap.py``) computes the
TP / FP of every class in a new ``spawn`` pool of 4 processes at every
evaluation; ``DOTAMetric`` gives no way to change that. Each spawned process
imports torch, mmcv and mmrotate again: about 10 s of CPU per process, i.e.
~40 s per validation of every dataset, however small. :func:`in_process_tpfp`
runs the same function (mmrotate's ``tpfp_default``, unchanged) in the
calling process instead, one image after the other. Nothing of mmrotate is
copied or changed on disk: the module's ``get_context`` name is swapped for
the duration of the ``with`` block only.
"""
import contextlib
from types import SimpleNamespace
from typing import Callable, Iterable, List


class _InProcessPool:
    """The part of ``multiprocessing.Pool`` that ``eval_rbbox_map`` uses."""

    def starmap(self, func: Callable, iterable: Iterable) -> List:
        return [func(*args) for args in iterable]

    def close(self) -> None:
        pass


@contextlib.contextmanager
def in_process_tpfp():
    """Within the block, mmrotate's rotated mAP uses no worker processes."""
    from mmrotate.evaluation.functional import mean_ap
    original = mean_ap.get_context
    context = SimpleNamespace(Pool=lambda processes=None: _InProcessPool())
    mean_ap.get_context = lambda method=None: context
    try:
        yield
    finally:
        mean_ap.get_context = original
