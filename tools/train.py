"""Train an s5_mm / mmseg / mmrotate config (the config's default_scope decides).

Same flags as mmseg's tools/train.py:
    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
                          [--allow-partial-load] [--cfg-options k=v ...]
                          [--launcher pytorch|slurm|mpi]

Checkpoints (``load_from``, ``--resume``) load strictly: a checkpoint that
does not fit the model is an error, and so is a truncated or unreadable one
(named). One run per work dir: a second run on a work dir a live run holds
stops, naming that process (``WORK_DIR/train.lock``). ``--resume`` without a
path resumes from the work dir's own newest intact checkpoint
(docs/reliability.md).
"""
import argparse
import logging
import os
import os.path as osp

import s5_mm  # noqa: F401  (checks the stack, registers s5_mm components)
from mmengine.config import Config, DictAction
from mmengine.logging import print_log
from mmengine.runner import Runner

from s5_mm.utils.amp import disable_amp_without_accelerator
from s5_mm.utils.checkpoint import (CheckpointReadError,
                                   check_checkpoint_file)
from s5_mm.utils.work_dir import WorkDirLock, find_resume_checkpoint
from s5_mm.utils.tool_cfg import prepare_tool_cfg
from s5_mm.utils.dist import prepare_cpu_distributed


def parse_args():
    parser = argparse.ArgumentParser(description='Train a model with s5_mm')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint; without a path, from the '
        'latest checkpoint in the work dir')
    parser.add_argument(
        '--allow-partial-load', action='store_true',
        help='let load_from / --resume load a checkpoint that does not fit '
        'the model (missing, unexpected or reshaped weights keep their '
        'initialisation), e.g. for a new head; sets allow_partial_load=True')
    parser.add_argument(
        '--amp', action='store_true', default=False,
        help='enable automatic mixed precision training')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings in the config, key=value pairs, e.g. '
        'train_cfg.max_iters=10')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none', help='job launcher')
    # torch.distributed.launch passes --local-rank (torch>=2.0) or --local_rank
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main():
    args = parse_args()
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'config file not found: {args.config}')
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)

    # work_dir priority: CLI > config > ./work_dirs/<config name>
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])

    if args.amp:
        optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if optim_wrapper == 'AmpOptimWrapper':
            print_log('AMP training is already enabled in your config.',
                      logger='current', level=logging.WARNING)
        else:
            assert optim_wrapper == 'OptimWrapper', (
                '`--amp` is only supported when the optimizer wrapper type is '
                f'`OptimWrapper` but got {optim_wrapper}.')
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.loss_scale = 'dynamic'

    disable_amp_without_accelerator(cfg)

    # one run per work dir (rank 0 holds the lock for all ranks)
    rank = os.environ.get('RANK', os.environ.get('SLURM_PROCID', '0'))
    lock = WorkDirLock(osp.abspath(cfg.work_dir)) if rank == '0' else None
    notes = [lock.acquire()] if lock is not None else []
    try:
        train(cfg, args, [n for n in notes if n])
    finally:
        if lock is not None:
            lock.release()


def train(cfg: Config, args: argparse.Namespace, notes: list) -> None:
    """Resolve what to resume or load, build the runner and train."""
    if args.resume == 'auto':
        cfg.load_from = None
        # cluster jobs pass --resume on every (re)start: the first start has
        # nothing to resume (no last_checkpoint file, which mmengine's
        # auto-resume reads), and says so. last_checkpoint is read in this
        # work dir (a copied / moved one resumes from its own files); a
        # broken checkpoint falls back to the newest intact one.
        if not osp.isfile(osp.join(cfg.work_dir, 'last_checkpoint')):
            notes.append(f'--resume: no checkpoint in {cfg.work_dir} (no '
                         'last_checkpoint file), starting from iteration 0')
        else:
            found, skipped = find_resume_checkpoint(cfg.work_dir)
            if found is None:
                raise CheckpointReadError(
                    f'--resume: no readable checkpoint in {cfg.work_dir}: '
                    f'{"; ".join(skipped)}. Copy them again, or start '
                    'without --resume')
            if skipped:
                notes.append(f'--resume: skipped {"; ".join(skipped)}: '
                             f'resuming from {found}, the newest intact '
                             'checkpoint')
            cfg.resume = True
            cfg.load_from = found
    elif args.resume is not None:
        if not osp.isfile(args.resume):
            raise FileNotFoundError(f'--resume checkpoint not found: {args.resume}')
        check_checkpoint_file(args.resume, '--resume')
        cfg.resume = True
        cfg.load_from = args.resume
    elif cfg.get('load_from') and osp.isfile(cfg.load_from):
        check_checkpoint_file(cfg.load_from, 'load_from')

    prepare_tool_cfg(cfg, args.allow_partial_load)

    prepare_cpu_distributed(cfg)
    if 'runner_type' not in cfg:
        runner = Runner.from_cfg(cfg)
    else:
        from mmengine.registry import RUNNERS
        runner = RUNNERS.build(cfg)
    for note in notes:
        runner.logger.info(note)
    runner.train()


if __name__ == '__main__':
    main()
