"""One rank of the CPU DDP test (started by torch.distributed.run).

mmengine's ``init_dist`` calls ``torch.cuda.set_device`` even for gloo, so
the process group is created here and the Runner finds it initialised; the
DDP wrapper gets ``device_ids=None`` (CPU modules).
"""
import sys

import torch.distributed as dist
from mmengine.config import Config
from mmengine.runner import Runner

import s5_mm  # noqa: F401

if __name__ == '__main__':
    dist.init_process_group(backend='gloo')
    cfg = Config.fromfile(sys.argv[1])
    cfg.launcher = 'pytorch'
    cfg.model_wrapper_cfg = dict(
        type='MMDistributedDataParallel', device_ids=None,
        broadcast_buffers=False, find_unused_parameters=False)
    Runner.from_cfg(cfg).train()
    # both ranks done (checkpoint written) before gloo is torn down
    dist.barrier()
    dist.destroy_process_group()
