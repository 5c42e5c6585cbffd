"""Run one GPU-check path: a few training iterations of a recipe through
mmengine's ``Runner`` (the code path ``tools/train.py`` takes), recorded by
:class:`IterationRecorderHook`."""
import math
import os.path as osp
import traceback
import uuid
from typing import Any, Dict, List, Optional

import torch
from mmengine.config import Config

from s5_mm.engine.hooks.iteration_recorder_hook import RECORDS

# a dynamic loss scale outside this range means fp16 over- or underflows
# on every step (it halves on each overflow, doubles every 2000 clean steps)
LOSS_SCALE_RANGE = (1.0, 2.0**24)
def prepare(cfg: Config, name: str, work_dir: str, iters: int) -> Config:
    """``cfg`` trimmed to ``iters`` training iterations: no validation, no
    checkpoint, no pictures, a logger line per iteration, the recorder."""
    cfg.work_dir = osp.join(work_dir, name)
    # a name of its own: the Runner's default scope, logger and visualizer
    # are global instances looked up by it
    cfg.experiment_name = f'gpu_check_{name}_{uuid.uuid4().hex[:8]}'
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=iters,
                         val_interval=iters + 1)
    for key in ('val_dataloader', 'val_cfg', 'val_evaluator',
                'test_dataloader', 'test_cfg', 'test_evaluator'):
        cfg[key] = None
    cfg.train_dataloader.num_workers = 0
    cfg.train_dataloader.persistent_workers = False
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', by_epoch=False, interval=iters + 1,
        save_last=False)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.custom_hooks = [
        h for h in cfg.get('custom_hooks', [])
        if h['type'] != 'FixMatchVisualizationHook'
    ] + [dict(type='IterationRecorderHook', run_id=cfg.experiment_name)]
    cfg.visualizer.vis_backends = None
    cfg.visualizer.name = cfg.experiment_name
    cfg.randomness = dict(seed=0)
    cfg.log_level = 'WARNING'
    return cfg


def summarise(record: List[Dict[str, Any]], amp: Optional[str]) -> dict:
    """Iterations per second (after the first, warm-up iteration), whether
    every loss stayed finite and the AMP loss scale in range."""
    out: Dict[str, Any] = dict(iterations=len(record), amp=amp)
    if len(record) >= 2:
        span = record[-1]['time'] - record[0]['time']
        out['iters_per_s'] = round((len(record) - 1) / span, 3)
    losses = [v for r in record for v in r['losses'].values()]
    out['losses_finite'] = bool(losses) and all(map(math.isfinite, losses))
    out['last_loss'] = record[-1]['losses'].get('loss') if record else None
    scales = [r['loss_scale'] for r in record if r['loss_scale'] is not None]
    if scales:
        out['loss_scale'] = [min(scales), max(scales)]
        out['loss_scale_in_range'] = all(
            LOSS_SCALE_RANGE[0] <= s <= LOSS_SCALE_RANGE[1] for s in scales)
    return out


def failure(err: BaseException) -> Dict[str, Any]:
    """A 'failed' result: the error's last line and its traceback."""
    lines = str(err).strip().splitlines() or [type(err).__name__]
    return dict(status='failed', reason=f'{type(err).__name__}: {lines[-1]}',
                traceback=''.join(traceback.format_exception(
                    type(err), err, err.__traceback__, limit=-6)))


def run_path(name: str, cfg: Config, work_dir: str, iters: int,
             amp: Optional[str]) -> Dict[str, Any]:
    """Train ``cfg`` for ``iters`` iterations and report.

    Returns:
        dict: ``status`` ('ok' or 'failed', with ``reason`` = the error's
        last line and ``traceback``), iterations per second, peak GPU
        memory (MB, None on a CPU), ``losses_finite``, ``loss_scale`` and
        ``loss_scale_in_range`` under AMP. A run whose losses are not
        finite, or whose loss scale left its range, is 'failed'.
    """
    from mmengine.runner import Runner
    cfg = prepare(cfg, name, work_dir, iters)
    record = RECORDS.setdefault(cfg.experiment_name, [])
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    try:
        Runner.from_cfg(cfg).train()
    except Exception as err:  # reported, not raised: the other paths run
        return dict(failure(err), **summarise(record, amp))
    out = dict(status='ok', **summarise(record, amp))
    out['peak_gpu_mem_mb'] = round(
        torch.cuda.max_memory_allocated() / 2**20, 1) if cuda else None
    if not out['losses_finite']:
        out.update(status='failed', reason='a loss is not finite')
    elif out.get('loss_scale_in_range') is False:
        out.update(status='failed', reason=f'AMP loss scale left '
                   f'{LOSS_SCALE_RANGE}: {out["loss_scale"]}')
    return out
