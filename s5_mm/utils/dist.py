"""Distributed training on machines without CUDA (CPU, gloo).

mmengine 0.10's ``init_dist('pytorch')`` always calls
``torch.cuda.set_device`` and its Runner wraps models in DDP with
``device_ids=[LOCAL_RANK]``; both fail on a CPU-only machine. When there is
no CUDA device, :func:`prepare_cpu_distributed` initialises the gloo process
group from the launcher's environment itself (the Runner then finds it
initialised and skips ``init_dist``) and sets ``device_ids=None`` for the DDP
wrapper. On GPU machines it does nothing.
"""
import os

import torch
import torch.distributed as dist
from mmengine.config import Config


def prepare_cpu_distributed(cfg: Config) -> bool:
    """Set up a gloo process group for ``cfg.launcher`` on CPU-only machines.

    Args:
        cfg (Config): the run's config; ``launcher``, ``env_cfg.dist_cfg``
            and ``model_wrapper_cfg`` are read and updated in place.

    Returns:
        bool: True when the CPU path was taken.
    """
    launcher = cfg.get('launcher', 'none')
    if launcher == 'none' or torch.cuda.is_available():
        return False
    if launcher != 'pytorch':
        raise RuntimeError(
            f"--launcher {launcher} needs GPUs; on a CPU-only machine use "
            "--launcher pytorch (tools/dist_train.sh), which runs on gloo")
    missing = [k for k in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT')
               if k not in os.environ]
    if missing:
        raise RuntimeError(
            f'--launcher pytorch: environment variables {missing} are not set; '
            'start the job with tools/dist_train.sh (torch.distributed.run)')
    # a new dict: ConfigDict.setdefault returns the default it was given,
    # not the copy it stores, so updating its result changes nothing
    env_cfg = cfg.get('env_cfg') or {}
    cfg.env_cfg = dict(env_cfg,
                       dist_cfg=dict(env_cfg.get('dist_cfg') or {},
                                     backend='gloo'))
    if not dist.is_initialized():
        dist.init_process_group(
            backend='gloo',
            rank=int(os.environ['RANK']),
            world_size=int(os.environ['WORLD_SIZE']))
    wrapper = cfg.get('model_wrapper_cfg') or dict(type='MMDistributedDataParallel')
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper
    return True
