"""s5_mm.utils.gpu_check.environment: the machine, as plain JSON values
that agree with what torch, mmcv and faiss report themselves."""
import json

import faiss
import mmcv
import torch
import torch.distributed as dist

from s5_mm.utils.gpu_check.environment import collect_environment


def test_environment_agrees_with_the_libraries():
    env = collect_environment()
    assert json.loads(json.dumps(env)) == env  # plain JSON values
    assert env['torch'] == torch.__version__
    assert env['cuda'] == torch.version.cuda
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    assert len(env['gpus']) == count
    for i, gpu in enumerate(env['gpus']):
        prop = torch.cuda.get_device_properties(i)
        assert gpu == dict(name=prop.name,
                           memory_mb=prop.total_memory // 2**20,
                           capability=f'{prop.major}.{prop.minor}')
    assert env['bf16'] is (bool(count) and torch.cuda.is_bf16_supported())
    # the stack's mmcv is the full build (compiled ops)
    assert env['mmcv']['version'] == mmcv.__version__
    assert env['mmcv']['compiled_ops'] is True
    from mmcv.ops import get_compiling_cuda_version
    assert env['mmcv']['cuda_ops'] is (
        get_compiling_cuda_version() != 'not available')
    assert env['faiss'] == dict(installed=True, version=faiss.__version__,
                                gpus=int(faiss.get_num_gpus()))
    assert env['nccl'] is dist.is_nccl_available()
    assert env['gloo'] is dist.is_gloo_available()
