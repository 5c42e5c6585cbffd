"""Shipped configs shrunk to tiny models (embed 32, 4 layers, 128 px test
images), with a random-initialised checkpoint, for the demo / apis / tool
tests. The configs users run are the ones tested, only smaller."""
import copy
import glob
import os.path as osp

import torch
from mmengine.config import Config

from s5_mm.utils.tiny_config import shrink_cfg


def shipped(name: str) -> str:
    """A shipped config by file name, wherever configs/ keeps it."""
    found = glob.glob(f'configs/**/{name}', recursive=True)
    assert len(found) == 1, f'{name}: {found}'
    return found[0]


def tiny_config(name: str, **options) -> Config:
    """Shipped config ``name`` with a tiny model and 128 px test images;
    ``options`` are merged as ``--cfg-options``."""
    cfg = Config.fromfile(shipped(name))
    for key in ('model', 'test_dataloader', 'val_dataloader'):
        if cfg.get(key):
            cfg[key] = shrink_cfg(copy.deepcopy(cfg[key]).to_dict())
    if options:
        cfg.merge_from_dict(options)
    return cfg


def save_random_checkpoint(cfg: Config, work_dir: str, seed: int = 0):
    """Dump ``cfg`` and a random-initialised checkpoint of its model.

    Returns:
        tuple: (config file, checkpoint file, the model).
    """
    from s5_mm.apis import init_model
    torch.manual_seed(seed)
    model = init_model(cfg)
    cfg_file = osp.join(work_dir, 'config.py')
    ckpt = osp.join(work_dir, 'random.pth')
    cfg.dump(cfg_file)
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), ckpt)
    return cfg_file, ckpt, model
