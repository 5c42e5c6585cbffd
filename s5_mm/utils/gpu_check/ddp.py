"""The GPU check's DDP path: S4P FixMatch trained by several ranks of one
node (NCCL on GPUs, gloo with ``--device cpu``), then every rank's
parameters compared with rank 0's."""
import json
import os
import os.path as osp
import socket
import tempfile
from typing import Any, Dict, Optional

import torch
import torch.distributed as dist

from .probe import RECORDS, failure, prepare, summarise
from .recipes import s4p_fixmatch

# DDP averages the same gradients on every rank: the parameters agree up to
# the reduction's rounding
PARAM_TOLERANCE = 1e-5


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _rank_main(rank: int, world: int, port: int, device: str, work_dir: str,
               iters: int, data_root: str, amp: Optional[str],
               out_file: str) -> None:
    from mmengine.runner import Runner
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port),
                      RANK=str(rank), LOCAL_RANK=str(rank),
                      WORLD_SIZE=str(world))
    backend = 'nccl' if device == 'cuda' else 'gloo'
    if device == 'cuda':
        torch.cuda.set_device(rank)
    else:
        torch.set_num_threads(1)
    # mmengine's init_dist calls torch.cuda.set_device even for gloo: the
    # group is made here and the Runner finds it initialised
    dist.init_process_group(backend, rank=rank, world_size=world)
    cfg = prepare(s4p_fixmatch(data_root, amp), 'ddp', work_dir, iters)
    cfg.launcher = 'pytorch'
    cfg.env_cfg = dict(dist_cfg=dict(backend=backend))
    cfg.model_wrapper_cfg = dict(
        type='MMDistributedDataParallel',
        device_ids=[rank] if device == 'cuda' else None,
        broadcast_buffers=False, find_unused_parameters=False)
    runner = Runner.from_cfg(cfg)
    runner.train()
    flat = torch.cat([
        p.detach().float().flatten()
        for p in runner.model.module.parameters()
    ])
    gathered = [torch.zeros_like(flat) for _ in range(world)]
    dist.all_gather(gathered, flat)
    if rank == 0:
        diff = max(float((g - gathered[0]).abs().max()) for g in gathered[1:])
        out = summarise(RECORDS[cfg.experiment_name], amp)
        out.update(ranks=world, backend=backend, param_max_diff=diff)
        with open(out_file, 'w') as f:
            json.dump(out, f)
    dist.barrier()
    dist.destroy_process_group()


def run_ddp(device: str, ranks: int, work_dir: str, iters: int,
            data_root: str, amp: Optional[str]) -> Dict[str, Any]:
    """Spawn ``ranks`` processes, train, compare the ranks' parameters.

    Returns:
        dict: as :func:`~.probe.run_path` reports, plus ``ranks``,
        ``backend`` and ``param_max_diff`` (the largest difference of any
        rank's parameters from rank 0's; 'failed' above
        :data:`PARAM_TOLERANCE`).
    """
    import torch.multiprocessing as mp
    with tempfile.TemporaryDirectory(prefix='s5mm_gpu_check_') as tmp:
        out_file = osp.join(tmp, 'rank0.json')
        try:
            mp.spawn(_rank_main, nprocs=ranks, join=True,
                     args=(ranks, _free_port(), device, work_dir, iters,
                           data_root, amp, out_file))
            with open(out_file) as f:
                out = json.load(f)
        except Exception as err:
            return dict(failure(err), ranks=ranks)
    out['status'] = 'ok'
    if not out['losses_finite']:
        out.update(status='failed', reason='a loss is not finite')
    elif out['param_max_diff'] > PARAM_TOLERANCE:
        out.update(status='failed', reason='the ranks\' parameters differ '
                   f'by {out["param_max_diff"]:.3g} after {iters} steps')
    return out
