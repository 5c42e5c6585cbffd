"""Run AMP configs on machines without an accelerator."""
import logging

from mmengine.config import Config
from mmengine.device import get_device
from mmengine.logging import print_log

# AmpOptimWrapper arguments that OptimWrapper does not take
_AMP_ONLY_KEYS = ('loss_scale', 'dtype', 'use_fsdp')


def disable_amp_without_accelerator(cfg: Config) -> bool:
    """Turn ``AmpOptimWrapper`` into ``OptimWrapper`` when there is no GPU.

    mmengine's ``AmpOptimWrapper`` asserts a CUDA / NPU / MLU / MUSA device,
    so the shipped AMP configs (S4P, detection) would stop on a CPU machine.
    Here they train in fp32 instead, said in one warning line. CPU bf16
    autocast is not used: it is slower than fp32 on most CPUs and changes
    the numerics of what is meant as a functional check.

    Args:
        cfg (Config): the training config, changed in place.

    Returns:
        bool: whether AMP was turned off.
    """
    wrapper = cfg.get('optim_wrapper')
    if not wrapper or str(wrapper.get('type', '')).split('.')[-1] != \
            'AmpOptimWrapper' or get_device() != 'cpu':
        return False
    wrapper['type'] = 'OptimWrapper'
    for key in _AMP_ONLY_KEYS:
        wrapper.pop(key, None)
    print_log('no GPU found: AMP is turned off (optim_wrapper AmpOptimWrapper'
              ' -> OptimWrapper), training runs in fp32', logger='current',
              level=logging.WARNING)
    return True
