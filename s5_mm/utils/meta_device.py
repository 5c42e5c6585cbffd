"""Build a model's parameters on the meta device: shapes without memory, for
parameter counts and for checking a converted checkpoint's shapes against
a full-size architecture."""
import torch
from torch.overrides import TorchFunctionMode
from torch.utils._device import _device_constructors


class MetaTensors(TorchFunctionMode):
    """Create tensors on the meta device, except ``torch.linspace`` (mmseg's
    ViT turns its drop-path schedule into floats with ``.item()``, which a
    meta tensor cannot do; those few values are computed on the CPU).

    Example:
        >>> with MetaTensors():
        ...     model = MODELS.build(cfg.model)
    """

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if (func in _device_constructors() and func is not torch.linspace
                and kwargs.get('device') is None):
            kwargs['device'] = torch.device('meta')
        return func(*args, **kwargs)
