"""Checkpoint loading that refuses silent mismatches.

mmengine loads ``load_from`` / test checkpoints with ``strict=False``: a
checkpoint of another model (other embedding size, other heads) only logs
warnings, and training or testing goes on with a partly random model.
:func:`load_checkpoint_strict` and :func:`load_state_dict_strict` load the
same way (module pre-hooks such as MoEViT's dense-to-MoE mapping run as
usual) but raise :class:`CheckpointMismatchError` listing the first missing
keys, unexpected keys and shape mismatches with both shapes, unless a partial
load is asked for (``allow_partial=True``).
"""
import logging
import os.path as osp
import re
import zipfile
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple, Union

import torch.nn as nn
from mmengine.logging import MMLogger, print_log
from mmengine.model import BaseTTAModel, is_model_wrapper
from mmengine.runner import CheckpointLoader
from torch.nn.modules.module import _IncompatibleKeys

#: how users turn the check off, quoted in every error
OPT_OUT_HINT = (
    'If a partial load is intended (for example a new head), set '
    '`allow_partial_load = True` in the config or pass --allow-partial-load '
    'to tools/train.py / tools/test.py (allow_partial=True in '
    's5_mm.utils.load_checkpoint_strict).')
DEFAULT_REVISE_KEYS = ((r'^module\.', ''), )
_SHOW = 10  # keys listed per kind


class CheckpointMismatchError(RuntimeError):
    """A checkpoint's weights do not fit the model they are loaded into."""


class CheckpointReadError(RuntimeError):
    """A checkpoint file is truncated, corrupt or not a checkpoint."""


def checkpoint_problem(path: str) -> Optional[str]:
    """Why the local file ``path`` is not a readable checkpoint (None when
    it is).

    torch's zip format is checked without unpickling (every member's CRC:
    a file cut short or damaged in a copy fails); anything else (the legacy
    pickle format) is loaded once with ``torch.load``.
    """
    if not osp.isfile(path):
        return 'no such file'
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                bad = archive.testzip()
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
            return f'damaged zip archive: {e}'
        return None if bad is None else f'corrupt member {bad}'
    import torch
    try:
        torch.load(path, map_location='cpu', weights_only=False)
    except Exception as e:  # any reader error means unreadable
        return (f'{type(e).__name__}: {e}'.splitlines()[0] +
                f' ({osp.getsize(path)} bytes; truncated?)')
    return None


def check_checkpoint_file(path: str, what: str = 'checkpoint') -> None:
    """Raise :class:`CheckpointReadError` naming ``path`` (given as
    ``what``, e.g. '--resume' or 'load_from') if it is not readable."""
    problem = checkpoint_problem(path)
    if problem is not None:
        raise CheckpointReadError(
            f'{what} {path} is not a readable checkpoint: {problem}. It is '
            'truncated or corrupt (an interrupted save or copy?): copy it '
            'again, or use an earlier checkpoint')


@dataclass
class LoadReport:
    """What did not fit when a state dict was loaded into a model.

    Attributes:
        missing (list[str]): Model keys absent from the checkpoint.
        unexpected (list[str]): Checkpoint keys the model does not have.
        shape_mismatch (list[tuple]): ``(key, checkpoint shape, model
            shape)``; these weights were not loaded.
        errors (list[str]): Other errors torch reported while copying.
    """
    missing: List[str] = field(default_factory=list)
    unexpected: List[str] = field(default_factory=list)
    shape_mismatch: List[Tuple[str, tuple, tuple]] = field(
        default_factory=list)
    errors: List[str] = field(default_factory=list)

    @property
    def exact(self) -> bool:
        """True when every key loaded with the model's shape."""
        return not (self.missing or self.unexpected or self.shape_mismatch
                    or self.errors)

    def describe(self, source: str, model: nn.Module) -> str:
        """A message naming the checkpoint, the model and the first keys."""
        lines = [
            f'checkpoint {source} does not fit {type(model).__name__}: '
            f'{len(self.shape_mismatch)} shape mismatches, '
            f'{len(self.missing)} missing keys, {len(self.unexpected)} '
            'unexpected keys']
        if self.shape_mismatch:
            lines.append(_head('shape mismatch', len(self.shape_mismatch)))
            lines += [f'    {k}: {tuple(c)} in the checkpoint, {tuple(m)} in '
                      'the model' for k, c, m in self.shape_mismatch[:_SHOW]]
        for kind, keys in (('missing in the checkpoint', self.missing),
                           ('unexpected (not in the model)', self.unexpected),
                           ('other errors', self.errors)):
            if keys:
                lines.append(_head(kind, len(keys)))
                lines += [f'    {k}' for k in keys[:_SHOW]]
        return '\n'.join(lines)


def _head(kind: str, n: int) -> str:
    shown = f'first {_SHOW} of {n}' if n > _SHOW else str(n)
    return f'  {kind} ({shown}):'


def _unwrap(model: nn.Module) -> nn.Module:
    while is_model_wrapper(model) or isinstance(model, BaseTTAModel):
        model = model.module
    return model


def _load_collecting(model: nn.Module, state_dict: dict) -> LoadReport:
    """Load like ``nn.Module.load_state_dict(strict=False)`` but record
    shape mismatches (after each module's load pre-hooks ran) instead of
    raising on them."""
    report, errors = LoadReport(), []
    metadata = getattr(state_dict, '_metadata', None)

    def load(module: nn.Module, local: dict, prefix: str) -> None:
        module._load_from_state_dict(
            local, prefix, {} if metadata is None else metadata.get(
                prefix[:-1], {}), True, report.missing, report.unexpected,
            errors)
        # pre-hooks have rewritten ``local`` in place: compare what loaded
        own = dict(module._parameters)
        own.update((k, v) for k, v in module._buffers.items()
                   if k not in module._non_persistent_buffers_set)
        for name, value in own.items():
            given = local.get(prefix + name)
            if (value is not None and given is not None
                    and hasattr(given, 'shape')
                    and tuple(given.shape) != tuple(value.shape)):
                report.shape_mismatch.append(
                    (prefix + name, tuple(given.shape), tuple(value.shape)))
        for name, child in module._modules.items():
            if child is not None:
                child_prefix = f'{prefix}{name}.'
                load(child, {k: v for k, v in local.items()
                             if k.startswith(child_prefix)}, child_prefix)
        incompatible = _IncompatibleKeys(report.missing, report.unexpected)
        for hook in module._load_state_dict_post_hooks.values():
            hook(module, incompatible)

    load(model, dict(state_dict), '')
    # BN counters are absent from many published checkpoints (as mmengine)
    report.missing[:] = [k for k in report.missing
                         if not k.endswith('num_batches_tracked')]
    report.errors = [e for e in errors if not e.startswith('size mismatch')]
    return report


def load_state_dict_strict(model: nn.Module,
                           state_dict: dict,
                           source: str = 'state dict',
                           allow_partial: bool = False,
                           logger: Union[MMLogger, str, None] = 'current'
                           ) -> LoadReport:
    """Load ``state_dict`` into ``model``; raise if anything does not fit.

    Args:
        model (nn.Module): Target (model wrappers and TTA models are
            unwrapped, as mmengine does).
        state_dict (dict): Weights, keys as in ``model.state_dict()``.
        source (str): Where the weights come from, for the message.
        allow_partial (bool): Load what fits and log a warning instead of
            raising. Defaults to False.
        logger (MMLogger | str, optional): Where the warning goes.

    Returns:
        LoadReport: What did not fit (empty when exact).

    Raises:
        CheckpointMismatchError: With ``allow_partial=False``, when a key is
            missing, unexpected or of another shape. The matching weights
            have been loaded when it is raised.
    """
    model = _unwrap(model)
    report = _load_collecting(model, state_dict)
    if report.exact:
        return report
    message = report.describe(source, model)
    if not allow_partial:
        raise CheckpointMismatchError(message + '\n' + OPT_OUT_HINT)
    print_log(message + '\nPartial load allowed: the weights above keep '
              'their initialisation.', logger=logger, level=logging.WARNING)
    return report


def state_dict_of(checkpoint: dict,
                  revise_keys: Sequence[Tuple[str, str]] = DEFAULT_REVISE_KEYS
                  ) -> OrderedDict:
    """The weights of a loaded checkpoint (under ``state_dict`` or at the top
    level) with ``revise_keys`` regex substitutions applied, as mmengine's
    ``load_checkpoint`` does."""
    state_dict = checkpoint.get('state_dict', checkpoint)
    metadata = getattr(state_dict, '_metadata', None)
    for pattern, repl in revise_keys:
        state_dict = OrderedDict(
            (re.sub(pattern, repl, k), v) for k, v in state_dict.items())
    state_dict = OrderedDict(state_dict)
    if metadata is not None:
        state_dict._metadata = metadata
    return state_dict


def load_checkpoint_strict(
        model: nn.Module,
        filename: str,
        map_location: Optional[str] = 'cpu',
        allow_partial: bool = False,
        logger: Union[MMLogger, str, None] = 'current',
        revise_keys: Sequence[Tuple[str, str]] = DEFAULT_REVISE_KEYS) -> dict:
    """Load a checkpoint file into ``model``, refusing mismatches.

    Drop-in for ``mmengine.runner.load_checkpoint(model, filename,
    map_location, strict=True)`` with a readable error.

    Args:
        model (nn.Module): Target model.
        filename (str): Local path, URL or ``open-mmlab://`` name.
        map_location (str, optional): Passed to ``torch.load``.
            Defaults to 'cpu'.
        allow_partial (bool): Load what fits, warn about the rest.
            Defaults to False.
        logger (MMLogger | str, optional): Where warnings go.
        revise_keys (Sequence[tuple]): ``(pattern, replacement)`` regexes
            applied to the checkpoint keys. Defaults to stripping a DDP
            ``module.`` prefix.

    Returns:
        dict: The loaded checkpoint.

    Raises:
        CheckpointMismatchError: See :func:`load_state_dict_strict`.
    """
    checkpoint = CheckpointLoader.load_checkpoint(
        filename, map_location=map_location)
    load_state_dict_strict(model, state_dict_of(checkpoint, revise_keys),
                           source=filename, allow_partial=allow_partial,
                           logger=logger)
    return checkpoint

