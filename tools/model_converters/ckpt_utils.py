"""Helpers shared by the checkpoint converters in tools/model_converters."""
import importlib.util
import math
import os
import os.path as osp
import pickle
from collections import OrderedDict
from types import ModuleType
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.runner import CheckpointLoader
from mmseg.models.backbones import VisionTransformer

StateDict = Dict[str, torch.Tensor]


def mmseg_converter(name: str) -> ModuleType:
    """Import one of mmseg's converter scripts (``tools/model_converters``).

    They ship inside the mmseg package (``mmseg/.mim/tools``) for a pip
    install, or live in the repository's ``tools/`` for a source install.
    """
    import mmseg
    root = osp.dirname(mmseg.__file__)
    candidates = [
        osp.join(root, '.mim', 'tools', 'model_converters', f'{name}.py'),
        osp.join(osp.dirname(root), 'tools', 'model_converters', f'{name}.py')
    ]
    for path in candidates:
        if osp.isfile(path):
            spec = importlib.util.spec_from_file_location(
                f'mmseg_tools_{name}', path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module
    raise ImportError(f"mmseg's converter {name}.py not found in {candidates}:"
                      ' reinstall mmsegmentation (pip install mmsegmentation)')


def load_state_dict(path: str, trust: bool = False,
                    strip_prefix: bool = True) -> StateDict:
    """Load a checkpoint's weights (under ``state_dict``/``model`` or at the
    top level), without a DDP ``module.`` prefix.

    Args:
        path (str): Checkpoint file (or URL).
        trust (bool): Unpickle arbitrary objects (``weights_only=False``).
            Only for files from a trusted source. Defaults to False.
        strip_prefix (bool): Remove the DDP ``module.`` prefix. Defaults to
            True.
    """
    try:
        if trust:
            ckpt = torch.load(path, map_location='cpu', weights_only=False)
        else:
            ckpt = CheckpointLoader.load_checkpoint(path, map_location='cpu')
    except pickle.UnpicklingError as err:
        raise RuntimeError(
            f'{path} holds objects that the safe loader refuses ({err}). If '
            'you trust the file, pass --trust-checkpoint.') from err
    for key in ('state_dict', 'model'):
        if isinstance(ckpt, dict) and isinstance(ckpt.get(key), dict):
            ckpt = ckpt[key]
            break
    if not ckpt or not all(isinstance(v, torch.Tensor) for v in ckpt.values()):
        raise ValueError(f'{path} has no state dict of tensors (looked under '
                         "'state_dict', 'model' and the top level)")
    if not strip_prefix:
        return OrderedDict(ckpt)
    return OrderedDict(
        (k[len('module.'):] if k.startswith('module.') else k, v)
        for k, v in ckpt.items())


def save_state_dict(state_dict: StateDict, path: str,
                    meta: Optional[dict] = None) -> None:
    """Save ``{'state_dict': ..., 'meta': ...}`` (what mmengine loads)."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    tmp = f'{path}.tmp{os.getpid()}'  # never leave a half-written file
    torch.save({'state_dict': state_dict, 'meta': dict(meta or {})}, tmp)
    os.replace(tmp, path)
    print_log(f'saved {len(state_dict)} tensors to {path}', logger='current')


def grid_of(num_tokens: int, key: str) -> int:
    """Side of the square token grid with ``num_tokens`` tokens."""
    side = math.isqrt(num_tokens)
    if side * side != num_tokens:
        raise ValueError(f"'{key}' has {num_tokens} patch tokens, not a square"
                         ' grid: cannot resize it')
    return side


def resize_pos_embed(pos_embed: torch.Tensor, grid: Tuple[int, int],
                     key: str = 'pos_embed',
                     mode: str = 'bicubic') -> torch.Tensor:
    """Resize a ``(1, 1 + N, C)`` position embedding (cls slot first) to a
    ``grid`` of patches, with mmseg's ``VisionTransformer.resize_pos_embed``.
    """
    side = grid_of(pos_embed.shape[1] - 1, key)
    if (side, side) == tuple(grid):
        return pos_embed
    print_log(f'resize {key} from {side}x{side} to {grid[0]}x{grid[1]}',
              logger='current')
    return VisionTransformer.resize_pos_embed(pos_embed, tuple(grid),
                                              (side, side), mode)


def check_fits(state_dict: StateDict, config: Union[str, Config, dict],
               part: Union[str, Sequence[str], None] = None,
               source: str = 'the converted weights') -> None:
    """Build the model of ``config`` (or its sub-module ``part``, e.g.
    ``'backbone'``) and load ``state_dict`` into it strictly. With several
    parts (e.g. ``('backbone', 'neck')``), the keys carry the part as a
    prefix and each part is loaded strictly with its own keys.

    Raises:
        s5_mm.utils.CheckpointMismatchError: listing missing / unexpected
            keys and shape mismatches, when the weights do not fit exactly.
    """
    import s5_mm  # noqa: F401  (registers s5_mm models)
    from mmengine.registry import MODELS, DefaultScope

    from s5_mm.utils import load_state_dict_strict
    if isinstance(config, str):
        config = Config.fromfile(config)
    model_cfg = config['model'] if 'model' in config else config
    scope = config.get('default_scope') or 'mmseg'
    # the root registry builds from the registry of the config's scope
    with DefaultScope.overwrite_default_scope(scope):
        model = MODELS.build(model_cfg)
    if part and not isinstance(part, str):
        unknown = [k for k in state_dict
                   if not k.startswith(tuple(f'{p}.' for p in part))]
        if unknown:
            raise KeyError(f'{source}: keys {unknown[:5]} are outside the '
                           f'checked parts {list(part)}')
        for name in part:
            prefix = f'{name}.'
            check = OrderedDict((k[len(prefix):], v)
                                for k, v in state_dict.items()
                                if k.startswith(prefix))
            load_state_dict_strict(getattr(model, name), check,
                                   source=f'{source} ({name})')
        names = '+'.join(type(getattr(model, p)).__name__ for p in part)
    else:
        if part:
            model = getattr(model, part)
        load_state_dict_strict(model, state_dict, source=source)
        names = type(model).__name__
    print_log(f'{source}: all {len(state_dict)} tensors fit '
              f'{names} exactly', logger='current')
