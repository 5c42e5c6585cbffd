"""Helpers shared by the detection MDF tests."""
import contextlib
from typing import Iterator

import torch
from torch import nn


@contextlib.contextmanager
def parameters_on_meta() -> Iterator[None]:
    """Move every parameter to the meta device as it is registered.

    ``with torch.device('meta')`` cannot build mmseg's VisionTransformer (it
    calls ``.item()`` on a ``torch.linspace`` for the drop-path rates), so
    parameters are created on the CPU one at a time and moved to ``meta``
    at once: building ViT-H this way needs memory for one layer, not 0.7B
    parameters.
    """
    register = nn.Module.register_parameter

    def register_on_meta(module: nn.Module, name: str, param) -> None:
        if param is not None and param.device.type != 'meta':
            param = nn.Parameter(param.to('meta'), param.requires_grad)
        register(module, name, param)

    nn.Module.register_parameter = register_on_meta
    try:
        yield
    finally:
        nn.Module.register_parameter = register


def count_parameters(model: nn.Module) -> int:
    """Number of parameters (shared tensors counted once)."""
    return sum(p.numel() for p in model.parameters())


def tensor_on_meta(t: torch.Tensor) -> bool:
    return t.device.type == 'meta'
