"""Record each training iteration's losses, AMP loss scale and time (the
GPU check reads them: ``tools/gpu_check.py``)."""
import time
from typing import Any, Dict, List

import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

# the recorder's lists by run id (the Runner deep-copies its config, so a
# list passed in the config would not be the caller's)
RECORDS: Dict[str, List[Dict[str, Any]]] = {}


@HOOKS.register_module()
class IterationRecorderHook(Hook):
    """Records each training iteration's losses, AMP loss scale and time.

    Args:
        run_id (str): key of :data:`RECORDS` whose list gets one dict per
            iteration: ``losses`` (name -> float), ``loss_scale`` (None
            without AMP), ``time``.
    """
    priority = 'VERY_LOW'

    def __init__(self, run_id: str):
        self.record = RECORDS.setdefault(run_id, [])

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        scaler = getattr(runner.optim_wrapper, 'loss_scaler', None)
        self.record.append(dict(
            losses={k: float(torch.as_tensor(v).detach())
                    for k, v in (outputs or {}).items() if 'loss' in k},
            loss_scale=None if scaler is None else float(scaler.get_scale()),
            time=time.perf_counter()))
