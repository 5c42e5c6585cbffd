import math
import subprocess
import sys

import pytest
import torch


def test_import_registers_in_host_registries():
    import s5_mm  # noqa: F401
    from mmdet.registry import TRANSFORMS as DET_TRANSFORMS
    from mmrotate.registry import TRANSFORMS as ROT_TRANSFORMS
    from mmseg.registry import TRANSFORMS as SEG_TRANSFORMS
    from s5_mm.datasets.transforms import SetDatasetName

    assert SEG_TRANSFORMS.get('SetDatasetName') is SetDatasetName
    assert DET_TRANSFORMS.get('SetDatasetName') is SetDatasetName
    # mmrotate's registry is a child of mmdet's: found through the parent
    assert ROT_TRANSFORMS.build(dict(type='mmdet.SetDatasetName', name='dior')).name == 'dior'


def test_version_guard_names_package_versions_and_fix(monkeypatch):
    from s5_mm.utils import compat
    real = compat._get_version
    monkeypatch.setattr(compat, '_get_version',
                        lambda m: '2.2.0' if m == 'mmcv' else real(m))
    with pytest.raises(ImportError) as exc:
        compat.check_versions()
    msg = str(exc.value)
    assert 'mmcv' in msg and '2.2.0' in msg and '>=2.0.0,<2.2.0' in msg
    assert 'tools/setup_env.sh' in msg and 'docs/install.md' in msg
    # not the route that let openxlab downgrade the stack
    assert 'mim install' not in msg and 'constraints.txt' in msg


def test_version_guard_missing_package(monkeypatch):
    from s5_mm.utils import compat
    real = compat._get_version
    monkeypatch.setattr(compat, '_get_version',
                        lambda m: None if m == 'mmrotate' else real(m))
    with pytest.raises(ImportError, match=r'mmrotate\s+not installed'):
        compat.check_versions()


def test_version_guard_mmcv_without_ops(monkeypatch):
    from s5_mm.utils import compat
    monkeypatch.setattr(compat, '_has_mmcv_ops', lambda: False)
    with pytest.raises(ImportError, match='no compiled ops'):
        compat.check_versions()


def test_installed_stack_passes_guard():
    from s5_mm.utils import compat
    found = compat.check_versions()
    assert set(found) == set(compat.SUPPORTED)


def test_mmcv_rotated_op_matches_hand_computation():
    from mmcv.ops import box_iou_rotated
    # a 2x2 square and the same square turned by 45 degrees about its centre:
    # the overlap is a regular octagon of area 8(sqrt2 - 1), so
    # IoU = 8(sqrt2-1) / (8 - 8(sqrt2-1)) = 1/sqrt2.
    a = torch.tensor([[0., 0., 2., 2., 0.]])
    b = torch.tensor([[0., 0., 2., 2., math.pi / 4]])
    iou = box_iou_rotated(a, b)
    assert iou.shape == (1, 1)
    assert iou.item() == pytest.approx(1 / math.sqrt(2), abs=1e-4)
    # shifted by one side: overlap 2, union 6
    c = torch.tensor([[1., 0., 2., 2., 0.]])
    assert box_iou_rotated(a, c).item() == pytest.approx(1 / 3, abs=1e-5)


def test_safe_loader_accepts_mmengine_checkpoint(tmp_path):
    """torch.load(weights_only=True) refuses mmengine's HistoryBuffer unless
    s5_mm's allow-list is installed."""
    from mmengine.logging import HistoryBuffer
    path = tmp_path / 'ckpt.pth'
    import numpy as np
    buf = HistoryBuffer()
    buf.update(1.5)
    torch.save({'message_hub': {'log_scalars': {'loss': buf}},
                'meta': {'seed': np.int64(3), 'arr': np.arange(3.)}}, path)
    code = ('import torch, sys; torch.load(sys.argv[1], weights_only=True)')
    plain = subprocess.run([sys.executable, '-c', code, str(path)],
                           capture_output=True, text=True)
    if torch.__version__ >= '2.6':
        assert plain.returncode != 0 and 'HistoryBuffer' in plain.stderr
    with_s5 = subprocess.run(
        [sys.executable, '-c', 'import s5_mm; ' + code, str(path)],
        capture_output=True, text=True)
    assert with_s5.returncode == 0, with_s5.stderr[-2000:]
    import s5_mm  # noqa: F401
    ckpt = torch.load(path, weights_only=True)
    assert ckpt['message_hub']['log_scalars']['loss'].current() == 1.5
    assert ckpt['meta']['arr'].tolist() == [0., 1., 2.]


def test_safe_loader_still_refuses_arbitrary_getattr(tmp_path):
    """The getattr allowed for HistoryBuffer must not open other attributes."""
    import pickle

    from mmengine.logging import HistoryBuffer

    import s5_mm  # noqa: F401

    class Evil:
        def __reduce__(self):
            return (getattr, (HistoryBuffer, '__init__'))

    path = tmp_path / 'evil.pth'
    torch.save({'x': Evil()}, path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)


def test_mim_extension_exposes_configs_and_tools():
    """setup.py's mim extension: `mim train s5_mm CONFIG` looks under s5_mm/.mim."""
    import os.path as osp

    import s5_mm
    mim_root = osp.join(osp.dirname(s5_mm.__file__), '.mim')
    assert osp.isfile(osp.join(mim_root, 'tools', 'train.py'))
    assert osp.isfile(osp.join(
        mim_root, 'configs', 'demo', 'upernet_vit-tiny_1xb4-60iter_loveda-sample-64x64.py'))
