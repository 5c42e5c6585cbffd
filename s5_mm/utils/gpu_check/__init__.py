"""A check a cluster user runs after installing: every GPU path of s5_mm
for a few iterations (``tools/gpu_check.py``), one JSON report.

Paths: S4P FixMatch with the shipped AMP setting (fp16, and bf16 where the
GPU has it), the EMA-teacher S4P, MoE-MDF segmentation, MoE-MDF oriented
detection (mmcv's rotated CUDA ops), the data selector (scoring on the
GPU, faiss K-Means), faiss-gpu K-Means against the CPU, DDP across the
visible GPUs. ``device='cpu'`` runs the same code on the CPU (fp32, gloo),
which is how the test suite checks the check.
"""
from typing import Any, Dict, List, Optional

from .environment import collect_environment
from .probe import failure
from .report import format_table, has_failures

PATHS = ('s4p_fixmatch', 's4p_fixmatch_bf16', 's4p_ema', 'moe_mdf_seg',
         'moe_mdf_det', 'selector', 'faiss_gpu_kmeans', 'ddp')


def _skip_reason(name: str, device: str, env: Dict[str, Any],
                 ranks: int) -> Optional[str]:
    """Why ``name`` cannot run on this machine (None: it should work)."""
    if device == 'none':
        return 'no GPU visible (--device cpu runs the paths on the CPU)'
    cuda = device == 'cuda'
    if name == 's4p_fixmatch_bf16':
        if not cuda:
            return 'AMP needs CUDA: the CPU run is fp32 (s4p_fixmatch)'
        if not env['bf16']:
            return 'this GPU has no bfloat16'
    if name == 'moe_mdf_det':
        if not env['mmcv'].get('compiled_ops'):
            return 'mmcv has no compiled ops (mmcv-lite): see docs/install.md'
        if cuda and not env['mmcv'].get('cuda_ops'):
            return ('mmcv was built without CUDA ops: rebuild it on a node '
                    'with nvcc (bash tools/setup_env.sh, docs/install.md)')
    if name == 'faiss_gpu_kmeans' and env['faiss'].get('gpus', 0) < 1:
        return 'faiss sees no GPU (faiss-cpu installed, or no GPU)'
    if name == 'ddp' and cuda:
        if len(env['gpus']) < 2 or ranks < 2:
            return 'one GPU only: DDP needs 2 or more (--gpus N)'
        if not env['nccl']:
            return 'torch.distributed has no NCCL'
    return None


def _run(name: str, device: str, env: Dict[str, Any], iters: int,
         data_root: str, work_dir: str, ranks: int,
         amp: Optional[str]) -> Dict[str, Any]:
    from .ddp import run_ddp
    from .kmeans import run_faiss_kmeans
    from .probe import run_path
    from .recipes import RECIPES
    from .selector import run_selector
    if name == 'faiss_gpu_kmeans':
        return run_faiss_kmeans()
    if name == 'selector':
        return run_selector(device, work_dir, data_root)
    if name == 'ddp':
        return run_ddp(device, ranks, work_dir, iters, data_root, amp)
    recipe = RECIPES[name.replace('_bf16', '')]
    dtype = 'bfloat16' if name.endswith('_bf16') else amp
    return run_path(name, recipe(data_root, dtype), work_dir, iters, dtype)


def run_gpu_check(device: str = 'auto',
                  iters: int = 3,
                  paths: Optional[List[str]] = None,
                  data_root: str = 'tests/data',
                  work_dir: str = 'work_dirs/gpu_check',
                  gpus: Optional[int] = None) -> Dict[str, Any]:
    """Run the paths and return ``{"environment": ..., "paths": {NAME:
    {"status": "ok" | "failed" | "skipped", "reason": ..., ...}}}``.

    Args:
        device (str): 'cuda', 'cpu' or 'auto' (CUDA when a GPU is visible,
            else every path is skipped).
        iters (int): training iterations per path (the first is warm-up).
        paths (list[str], optional): a subset of :data:`PATHS`.
        data_root (str): the bundled sample data (``tests/data``).
        work_dir (str): where the runs write their logs.
        gpus (int, optional): DDP ranks (default: every visible GPU; 2 on
            the CPU).
    """
    import torch

    env = collect_environment()
    if device == 'auto':
        device = 'cuda' if torch.cuda.is_available() else 'none'
    env['device'] = device
    unknown = sorted(set(paths or ()) - set(PATHS))
    if unknown:
        raise ValueError(f'unknown GPU-check path(s) {unknown}; the paths '
                         f'are {list(PATHS)}')
    ranks = gpus or (len(env['gpus']) if device == 'cuda' else 2)
    amp = 'float16' if device == 'cuda' else None
    report: Dict[str, Any] = dict(environment=env, paths={})
    for name in paths or PATHS:
        reason = _skip_reason(name, device, env, ranks)
        if reason:
            report['paths'][name] = dict(status='skipped', reason=reason)
            continue
        try:
            result = _run(name, device, env, iters, data_root, work_dir,
                          ranks, amp)
        except Exception as err:  # reported, not raised: the others run
            result = failure(err)
        report['paths'][name] = result
    return report


__all__ = [
    'PATHS', 'collect_environment', 'format_table', 'has_failures',
    'run_gpu_check'
]
