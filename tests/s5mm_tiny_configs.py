"""Shipped configs shrunk to tiny models (embed 32, 4 layers, 128 px test
images), with a random-initialised checkpoint, for the demo / apis / tool
tests. The configs users run are the ones tested, only smaller."""
import copy
import glob
import os.path as osp

import torch
from mmengine.config import Config

# channel widths of ViT-B / UPerNet / FPN / Oriented R-CNN -> tiny ones
_WIDTHS = {1280: 32, 1024: 32, 768: 32, 512: 16, 384: 16, 256: 16, 128: 16}
_WIDTH_KEYS = ('embed_dims', 'embed_dim', 'in_channels', 'out_channels',
               'channels', 'feat_channels', 'fc_out_channels')


def shipped(name: str) -> str:
    """A shipped config by file name, wherever configs/ keeps it."""
    found = glob.glob(f'configs/**/{name}', recursive=True)
    assert len(found) == 1, f'{name}: {found}'
    return found[0]


def _shrink(node, parent_key=None):
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key in _WIDTH_KEYS and not (key == 'in_channels'
                                           and value == 3):
                if isinstance(value, (list, tuple)):
                    value = [_WIDTHS.get(v, v) for v in value]
                else:
                    value = _WIDTHS.get(value, value)
            elif key == 'num_layers' and 'embed_dims' in node:
                value = 4
            elif key == 'out_indices' and 'embed_dims' in node:
                value = (0, 1, 2, 3)
            elif key == 'num_heads':
                value = 2
            elif key == 'expert_channels':
                value = 8
            elif key in ('img_size', 'crop_size', 'size') and \
                    isinstance(value, (list, tuple)) and len(value) == 2 \
                    and value[0] >= 512:
                value = (64, 64)
            elif key == 'stride' and isinstance(value, (list, tuple)) and \
                    len(value) == 2 and value[0] >= 256:
                value = (48, 48)
            elif key == 'scale' and isinstance(value, (list, tuple)) and \
                    len(value) == 2 and value[0] >= 512:
                value = (128, 128)
            out[key] = _shrink(value, key)
        return out
    if isinstance(node, (list, tuple)):
        return type(node)(_shrink(v, parent_key) for v in node)
    return node


def tiny_config(name: str, **options) -> Config:
    """Shipped config ``name`` with a tiny model and 128 px test images;
    ``options`` are merged as ``--cfg-options``."""
    cfg = Config.fromfile(shipped(name))
    for key in ('model', 'test_dataloader', 'val_dataloader'):
        if cfg.get(key):
            cfg[key] = _shrink(copy.deepcopy(cfg[key]).to_dict())
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
