"""Compatibility checks and shims for the OpenMMLab stack s5_mm runs on.

Two things live here, both run once on ``import s5_mm``:

* :func:`check_versions` compares the installed numpy / mmcv / mmengine /
  mmseg / mmdet / mmpretrain / mmrotate with the ranges s5_mm supports and
  raises ONE message listing what is installed, what is needed and how to
  fix it. (numpy 2 breaks mmcv 2.1's colour transforms at the first
  training iteration, hence its upper bound.)
  mmcv without compiled ops (``mmcv-lite``, or a build without
  ``MMCV_WITH_OPS=1``) gets its own message, since mmrotate needs the ops.
* :func:`allow_mmengine_checkpoints` makes ``torch.load(weights_only=True)``
  (the default since torch 2.6) accept the few non-tensor types mmengine
  writes into checkpoints (its ``HistoryBuffer`` in the message hub, numpy
  arrays and scalars in the log buffers, ``ConfigDict`` in ``meta``, and
  ``getattr(HistoryBuffer, 'mean')``-style references), so
  ``load_checkpoint`` and ``Runner.resume`` work with no environment
  variable and without turning the safe loader off. Only these types are
  allow-listed; arbitrary pickles are still refused. numpy's pickling
  functions are allowed under both module paths, ``numpy.core`` (numpy 1.x)
  and ``numpy._core`` (numpy 2.x), so checkpoints move between them.
"""
import importlib.metadata
import importlib.util
import sys
from typing import Dict, List, Optional, Tuple

from packaging.version import Version

# module -> (minimum inclusive, maximum exclusive, distributions that provide it)
SUPPORTED: Dict[str, Tuple[str, str, Tuple[str, ...]]] = {
    'numpy': ('1.22.0', '2.0.0', ('numpy', )),
    'mmcv': ('2.0.0', '2.2.0', ('mmcv', 'mmcv-full')),
    'mmengine': ('0.10.0', '1.0.0', ('mmengine', 'mmengine-lite')),
    'mmseg': ('1.2.0', '1.3.0', ('mmsegmentation', )),
    'mmdet': ('3.1.0', '3.4.0', ('mmdet', )),
    'mmpretrain': ('1.1.0', '1.3.0', ('mmpretrain', )),
    'mmrotate': ('1.0.0rc1', '1.1.0', ('mmrotate', 'mmrotate-dev')),
}

FIX_HINT = ('Fix: `pip install "numpy>=1.22,<2"` for numpy (pip may pull '
            'numpy 2 in with other packages); for the rest, run `bash '
            'tools/setup_env.sh` from the s5_mm repository (CPU; builds mmcv '
            '2.1.0 with ops, with CUDA ops where nvcc is found); GPU clusters: '
            'docs/install.md, "GPU clusters" (prebuilt mmcv 2.1.0 for torch '
            '<= 2.1, every pip call with -c requirements/constraints.txt).')


def _get_version(module: str) -> Optional[str]:
    """Installed version of ``module``'s distribution, None if absent.

    An already imported module reports its own ``__version__`` (the code
    that runs, e.g. numpy, which torch imports). Otherwise the version is
    read from package metadata, so nothing is imported (importing mmseg with
    a wrong mmcv would fail with mmseg's own, less helpful assertion).
    """
    loaded = sys.modules.get(module)
    if getattr(loaded, '__version__', None) is not None:
        return loaded.__version__
    for dist in SUPPORTED[module][2]:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    if importlib.util.find_spec(module) is not None:
        mod = importlib.import_module(module)
        return getattr(mod, '__version__', None)
    return None


def _has_mmcv_ops() -> bool:
    try:
        return importlib.util.find_spec('mmcv._ext') is not None
    except (ImportError, ValueError):
        return False


def check_versions() -> Dict[str, str]:
    """Raise ImportError listing every unsupported or missing package.

    Returns:
        dict: module name -> installed version, when everything fits.
    """
    problems: List[str] = []
    found: Dict[str, str] = {}
    for module, (low, high, dists) in SUPPORTED.items():
        ver = _get_version(module)
        need = f'>={low},<{high}'
        if ver is None:
            problems.append(f'  {module:<10} not installed        needed {need} '
                            f'(pip distribution: {dists[0]})')
            continue
        found[module] = ver
        if not Version(low) <= Version(ver) < Version(high):
            problems.append(f'  {module:<10} {ver:<20} needed {need}')
    if 'mmcv' in found and not _has_mmcv_ops():
        problems.append(
            f'  mmcv       {found["mmcv"]:<20} has no compiled ops (mmcv._ext '
            'missing: mmcv-lite or a build without MMCV_WITH_OPS=1); '
            'mmrotate and s5_mm need them. Uninstall it and build '
            'mmcv==2.1.0 with ops')
    if problems:
        raise ImportError('s5_mm cannot run on the installed OpenMMLab stack:\n' +
                          '\n'.join(problems) + '\n' + FIX_HINT)
    return found


#: the module numpy's array pickles name, in numpy 1.x and 2.x
NUMPY_CORE_PATHS = ('numpy.core.multiarray', 'numpy._core.multiarray')


def allow_mmengine_checkpoints() -> None:
    """Allow-list the types mmengine stores in checkpoints for torch's safe
    loader (``torch.load(..., weights_only=True)``).

    No-op on torch versions without ``torch.serialization.add_safe_globals``.
    """
    import torch
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is None:
        return
    import numpy as np
    from mmengine.config import ConfigDict
    from mmengine.logging import HistoryBuffer

    safe = [HistoryBuffer, ConfigDict, np.ndarray, np.dtype]
    # numpy 1.x pickles these as numpy.core.multiarray.*, numpy 2.x as
    # numpy._core.multiarray.*: allow both names for the running functions
    multiarray = importlib.import_module(
        NUMPY_CORE_PATHS[Version(np.__version__) >= Version('2.0.0')])
    for func in ('_reconstruct', 'scalar'):
        for path in NUMPY_CORE_PATHS:
            safe.append((getattr(multiarray, func), f'{path}.{func}'))
    # numpy >= 1.25 pickles dtypes through their classes (np.dtypes.Float64DType ...)
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        safe += [getattr(dtypes, n) for n in dir(dtypes) if n.endswith('DType')]
    # HistoryBuffer pickles its statistic methods as getattr(HistoryBuffer, 'mean').
    # Allow-listing builtins.getattr itself would re-open arbitrary code
    # execution, so the safe loader gets a getattr that resolves only those.
    safe.append((_history_buffer_getattr, 'builtins.getattr'))
    add(safe)


def _history_buffer_getattr(obj, name):
    """``getattr`` restricted to HistoryBuffer's statistic methods."""
    from mmengine.logging import HistoryBuffer
    if obj is HistoryBuffer and not name.startswith('_') and (
            name in HistoryBuffer._statistics_methods
            or name in ('min', 'max', 'current', 'mean')):
        return getattr(obj, name)
    import pickle
    raise pickle.UnpicklingError(
        f'refusing getattr({obj!r}, {name!r}) in a weights_only checkpoint: '
        's5_mm only allows the HistoryBuffer statistics mmengine saves. Load '
        'with weights_only=False only if you trust the file.')
