"""One rank of the CPU DDP test (started by torch.distributed.run).

Rank 0 trains on DOTA only, rank 1 on DIOR-R only, under DDP with
``find_unused_parameters=False``: each rank's loss must still reach every
parameter (the absent dataset's branch and experts through the zero-weighted
term), else DDP stops at the second step. Writes <out_dir>/rank<k>.json.
"""
import json
import os.path as osp
import sys

import torch
import torch.distributed as dist
from mmengine.config import Config
from mmengine.model import MMDistributedDataParallel
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope
from mmrotate.registry import MODELS

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
import s5_mm  # noqa: E402,F401
from mdf_det_common import MOE_CFG, batch, datasets, tiny_model_cfg  # noqa: E402

STEPS = 3

if __name__ == '__main__':
    dist.init_process_group(backend='gloo')
    rank = dist.get_rank()
    cfg = Config.fromfile(MOE_CFG)
    init_default_scope('mmrotate')
    name = ['dota', 'dior'][rank]
    data = batch([datasets(cfg, 'tests/data')[name][0]])
    torch.manual_seed(0)
    model = MODELS.build(tiny_model_cfg(cfg))
    init = {k: v.detach().clone() for k, v in model.named_parameters()}
    ddp = MMDistributedDataParallel(
        module=model, device_ids=None, broadcast_buffers=False,
        find_unused_parameters=False)
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01))
    for _ in range(STEPS):
        log = ddp.train_step(data, wrapper)
    flat = torch.cat([p.detach().flatten() for p in model.parameters()])
    gathered = [torch.zeros_like(flat) for _ in range(2)]
    dist.all_gather(gathered, flat)
    moved = {
        branch: max(float((p - init[f'branches.{branch}.{k}']).abs().max())
                    for k, p in model.branches[branch].named_parameters())
        for branch in ('dior', 'dota')
    }
    with open(osp.join(sys.argv[1], f'rank{rank}.json'), 'w') as f:
        json.dump(dict(
            rank=rank, batch_dataset=name, loss=float(log['loss']),
            rank_diff=float((gathered[0] - gathered[1]).abs().max()),
            moved=moved), f)
    dist.barrier()
    dist.destroy_process_group()
