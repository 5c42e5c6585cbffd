import os.path as osp

import pytest
from mmengine.runner import Runner

from mdf_seg_utils import make_openearthmap, tiny_cfg


@pytest.fixture(scope='session')
def trained(tmp_path_factory):
    """A tiny MoE-MDF (shrunk from the shipped config) trained 4 iterations
    on the bundled data: (config, runner, dumped config path, checkpoint)."""
    root = tmp_path_factory.mktemp('mdf')
    cfg = tiny_cfg(make_openearthmap(str(root / 'oem')),
                   work_dir=str(root / 'work'), max_iters=4)
    runner = Runner.from_cfg(cfg)
    runner.train()
    cfg_path = osp.join(cfg.work_dir, 'tiny_moe_mdf.py')
    cfg.dump(cfg_path)
    return cfg, runner, cfg_path, osp.join(cfg.work_dir, 'iter_4.pth')
