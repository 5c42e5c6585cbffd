"""What the GPU check reports about the machine before it runs anything."""
import platform
from typing import Any, Dict


def _mmcv_ops() -> Dict[str, Any]:
    try:
        from mmcv.ops import get_compiler_version, get_compiling_cuda_version
    except ImportError as err:  # mmcv-lite: no compiled ops at all
        return dict(compiled_ops=False, cuda_ops=False, error=str(err))
    cuda = get_compiling_cuda_version()
    return dict(compiled_ops=True, cuda_ops=cuda != 'not available',
                compiled_with_cuda=cuda, compiler=get_compiler_version())


def _faiss() -> Dict[str, Any]:
    try:
        import faiss
    except ImportError as err:
        return dict(installed=False, gpus=0, error=str(err))
    gpus = faiss.get_num_gpus() if hasattr(faiss, 'get_num_gpus') else 0
    return dict(installed=True, version=faiss.__version__, gpus=int(gpus))


def collect_environment() -> Dict[str, Any]:
    """torch / CUDA / GPUs / mmcv ops / faiss / NCCL, as plain JSON values.

    Returns:
        dict: ``torch``, ``cuda`` (torch's CUDA version or None), ``gpus``
        (name and memory of each visible GPU), ``bf16`` (the GPU supports
        bfloat16), ``mmcv`` (compiled ops, CUDA ops), ``faiss`` (installed,
        GPUs it sees), ``nccl`` / ``gloo`` (torch.distributed backends).
    """
    import mmcv
    import torch
    import torch.distributed as dist
    gpus = []
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            prop = torch.cuda.get_device_properties(i)
            gpus.append(dict(name=prop.name,
                             memory_mb=prop.total_memory // 2**20,
                             capability='%d.%d' % (prop.major, prop.minor)))
    return dict(
        python=platform.python_version(),
        platform=platform.platform(),
        torch=torch.__version__,
        cuda=torch.version.cuda,
        gpus=gpus,
        bf16=bool(gpus) and torch.cuda.is_bf16_supported(),
        mmcv=dict(version=mmcv.__version__, **_mmcv_ops()),
        faiss=_faiss(),
        nccl=dist.is_available() and dist.is_nccl_available(),
        gloo=dist.is_available() and dist.is_gloo_available())
