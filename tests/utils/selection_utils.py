"""Helpers shared by the selector tests (imported as a plain module)."""
import os.path as osp

from mmengine.config import Config

DEMO_CFG = 'configs/demo/upernet_vit-tiny_1xb4-60iter_loveda-sample-64x64.py'
UNLABELED = 'tests/data/unlabeled'
LABELED = 'tests/data/loveda/img_dir'


def small_cfg() -> Config:
    """The shipped demo config, test images resized to 64 px (speed)."""
    cfg = Config.fromfile(DEMO_CFG)
    for t in cfg.test_dataloader.dataset.pipeline:
        if t['type'] == 'Resize':
            t['scale'] = (64, 64)
    return cfg


def tool_cfg_file(tmp_path) -> str:
    """Write :func:`small_cfg` to a file the tool can read."""
    path = osp.join(str(tmp_path), 'demo_64.py')
    small_cfg().dump(path)
    return path
