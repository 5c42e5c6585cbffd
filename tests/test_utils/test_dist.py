"""s5_mm.utils.dist.prepare_cpu_distributed: a gloo process group and a
CPU DDP wrapper config when there is no CUDA device."""
import socket

import pytest
import torch
import torch.distributed as dist
from mmengine.config import Config

from s5_mm.utils.dist import prepare_cpu_distributed

ENV = ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT')


@pytest.fixture
def no_cuda(monkeypatch):
    """What the function asks torch is answered as on a CPU-only machine,
    so the CPU path is tested on GPU machines too."""
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)


def test_single_process_runs_are_left_alone():
    cfg = Config(dict(launcher='none'))
    assert prepare_cpu_distributed(cfg) is False
    assert cfg.to_dict() == dict(launcher='none')
    assert prepare_cpu_distributed(Config()) is False  # no launcher key


def test_gpu_machines_are_left_alone(monkeypatch):
    # runs on every machine: what the function asks torch is answered as
    # on a GPU node (the function itself is not replaced)
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    cfg = Config(dict(launcher='pytorch'))
    assert prepare_cpu_distributed(cfg) is False and 'env_cfg' not in cfg


def test_launchers_and_environment_are_checked(monkeypatch, no_cuda):
    with pytest.raises(RuntimeError, match='--launcher slurm needs GPUs'):
        prepare_cpu_distributed(Config(dict(launcher='slurm')))
    for key in ENV:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv('RANK', '0')
    with pytest.raises(RuntimeError, match=r"environment variables "
                       r"\['WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'\] "
                       'are not set'):
        prepare_cpu_distributed(Config(dict(launcher='pytorch')))


def test_gloo_group_and_wrapper_config(monkeypatch, no_cuda):
    assert not dist.is_initialized(), (
        'an earlier test left a process group in this pytest process; '
        'destroy it there (tests start groups in worker processes)')
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    for key, value in zip(ENV, ('0', '1', '127.0.0.1', str(port))):
        monkeypatch.setenv(key, value)
    cfg = Config(dict(launcher='pytorch', env_cfg=dict(cudnn_benchmark=False),
                      model_wrapper_cfg=dict(
                          type='MMDistributedDataParallel',
                          find_unused_parameters=True)))
    try:
        assert prepare_cpu_distributed(cfg) is True
        assert dist.is_initialized() and dist.get_backend() == 'gloo'
        assert (dist.get_rank(), dist.get_world_size()) == (0, 1)
        assert cfg.env_cfg == dict(cudnn_benchmark=False,
                                   dist_cfg=dict(backend='gloo'))
        assert cfg.model_wrapper_cfg == dict(
            type='MMDistributedDataParallel', find_unused_parameters=True,
            device_ids=None)
        # a second call finds the group initialised; the default wrapper,
        # env_cfg made where the config has none, its dist_cfg keys kept
        cfg = Config(dict(launcher='pytorch'))
        assert prepare_cpu_distributed(cfg) is True
        assert cfg.env_cfg == dict(dist_cfg=dict(backend='gloo'))
        cfg = Config(dict(launcher='pytorch',
                          env_cfg=dict(dist_cfg=dict(timeout=60))))
        assert prepare_cpu_distributed(cfg) is True
        assert cfg.env_cfg == dict(dist_cfg=dict(timeout=60, backend='gloo'))
        assert cfg.model_wrapper_cfg == dict(
            type='MMDistributedDataParallel', device_ids=None)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
