"""Test (evaluate) a checkpoint with an s5_mm / mmseg / mmrotate config.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out DIR]
                         [--show-dir DIR] [--allow-partial-load]
                         [--cfg-options k=v ...] [--launcher pytorch|slurm|mpi]

The checkpoint loads strictly: one that does not fit the model is an error,
and so is a truncated or unreadable one (named; docs/reliability.md).
"""
import argparse
import os
import os.path as osp

import s5_mm  # noqa: F401
from mmengine.config import Config, DictAction
from mmengine.runner import Runner

from s5_mm.utils.checkpoint import check_checkpoint_file
from s5_mm.utils.tool_cfg import prepare_tool_cfg
from s5_mm.utils.dist import prepare_cpu_distributed
from s5_mm.utils.tta import enable_tta


def parse_args():
    parser = argparse.ArgumentParser(description='Test a model with s5_mm')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save logs and metrics')
    parser.add_argument('--out', help='dir to dump the raw predictions (mmseg only)')
    parser.add_argument('--show-dir', help='dir to save painted predictions')
    parser.add_argument('--tta', action='store_true', help='test time augmentation')
    parser.add_argument(
        '--allow-partial-load', action='store_true',
        help='test even if the checkpoint does not fit the model (missing, '
        'unexpected or reshaped weights keep their initialisation)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings in the config, key=value pairs')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def trigger_visualization_hook(cfg, show_dir):
    hooks = cfg.default_hooks
    if 'visualization' not in hooks:
        raise KeyError('--show-dir needs a `visualization` hook in '
                       'default_hooks of the config')
    vis = hooks['visualization']
    vis['draw'] = True
    cfg.visualizer['save_dir'] = show_dir
    return cfg


def main():
    args = parse_args()
    for path, what in ((args.config, 'config'), (args.checkpoint, 'checkpoint')):
        if not osp.isfile(path):
            raise FileNotFoundError(f'{what} file not found: {path}')
    check_checkpoint_file(args.checkpoint, 'checkpoint')
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    if args.show_dir:
        cfg = trigger_visualization_hook(cfg, args.show_dir)
    if args.tta:
        enable_tta(cfg)
    if args.out is not None:
        cfg.test_evaluator['output_dir'] = args.out
        cfg.test_evaluator['keep_results'] = True
    prepare_tool_cfg(cfg, args.allow_partial_load)
    prepare_cpu_distributed(cfg)
    runner = Runner.from_cfg(cfg)
    runner.test()


if __name__ == '__main__':
    main()
