"""numpy in the version guard, and checkpoints that carry numpy arrays
loading under both numpy module layouts (numpy.core for 1.x, numpy._core for
2.x) with torch's safe loader, which still refuses other globals."""
import io
import os
import pickle

import numpy as np
import pytest
import torch

import s5_mm  # noqa: F401  (installs the allow-list)
from s5_mm.utils import compat


def test_numpy_2_is_refused_with_installed_needed_and_fix(monkeypatch):
    monkeypatch.setattr(np, '__version__', '2.1.3')
    with pytest.raises(ImportError) as exc:
        compat.check_versions()
    msg = str(exc.value)
    assert 'numpy      2.1.3' in msg and 'needed >=1.22.0,<2.0.0' in msg
    assert 'pip install "numpy>=1.22,<2"' in msg


def test_numpy_guard_reads_metadata_when_not_imported(monkeypatch):
    import importlib.metadata as md
    import sys
    real = md.version
    monkeypatch.delitem(sys.modules, 'numpy')
    monkeypatch.setattr(md, 'version',
                        lambda d: '2.0.1' if d == 'numpy' else real(d))
    with pytest.raises(ImportError, match=r'numpy\s+2\.0\.1\s+needed'):
        compat.check_versions()


def test_installed_numpy_passes():
    assert compat.check_versions()['numpy'] == np.__version__


def _legacy_save(obj) -> bytes:
    """torch.save in the legacy (plain pickle stream) format."""
    buf = io.BytesIO()
    torch.save(obj, buf, _use_new_zipfile_serialization=False)
    return buf.getvalue()


@pytest.mark.parametrize('module', compat.NUMPY_CORE_PATHS)
def test_checkpoint_with_either_numpy_module_name_loads(module, tmp_path):
    arr = np.arange(12, dtype=np.float32).reshape(3, 4)
    data = _legacy_save({'meta': {'arr': arr, 'seed': np.int64(7)}})
    # numpy 1.x and 2.x spell the reconstruct global differently
    spellings = [f'c{p}\n'.encode() for p in compat.NUMPY_CORE_PATHS]
    assert sum(data.count(s) for s in spellings) >= 2
    for s in spellings:
        data = data.replace(s, f'c{module}\n'.encode())
    assert data.count(f'c{module}\n_reconstruct\n'.encode()) == 1
    assert data.count(f'c{module}\nscalar\n'.encode()) == 1
    path = tmp_path / 'ckpt.pth'
    path.write_bytes(data)
    out = torch.load(path, map_location='cpu', weights_only=True)
    np.testing.assert_array_equal(out['meta']['arr'], arr)
    assert out['meta']['seed'] == 7


class _Evil:

    def __reduce__(self):
        return (os.system, ('true', ))


def test_other_globals_are_still_refused(tmp_path):
    path = tmp_path / 'evil.pth'
    path.write_bytes(_legacy_save({'meta': {'x': _Evil()}}))
    with pytest.raises(pickle.UnpicklingError, match='system'):
        torch.load(path, map_location='cpu', weights_only=True)
