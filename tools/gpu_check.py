"""Check every GPU path of s5_mm on this machine in a few minutes.

    python tools/gpu_check.py [--gpus N] [--out report.json]
    python tools/gpu_check.py --device cpu      # the same paths on the CPU

Runs, for a few iterations each on the bundled sample data (tests/data of a
clone) with tiny models: S4P FixMatch with the shipped AMP setting (fp16;
bf16 where the GPU has it), the EMA-teacher S4P, MoE-MDF segmentation,
MoE-MDF oriented detection (mmcv's rotated CUDA ops), faiss-gpu K-Means and
DDP across the visible GPUs (NCCL; parameters compared across ranks after
the steps). Prints one table and writes a JSON report
``{"environment": {...}, "paths": {NAME: {"status": ..., "reason": ...}}}``.
Exit status 1 when a path that should work on this machine failed; a path
that cannot run here (one GPU only, no CUDA ops, no faiss-gpu) is 'skipped'
with the reason. Without a GPU: one line, every path skipped, exit 0.
How to read the report: docs/install.md ("After installing on a cluster").
"""
import argparse
import json
import os
import sys


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Run every GPU path of s5_mm for a few iterations')
    parser.add_argument('--device', choices=['auto', 'cuda', 'cpu'],
                        default='auto',
                        help="'cpu' runs the same paths on the CPU (fp32, "
                        'gloo DDP); default: CUDA when a GPU is visible')
    parser.add_argument('--gpus', type=int, default=None,
                        help='DDP ranks (default: every visible GPU)')
    parser.add_argument('--iters', type=int, default=3,
                        help='training iterations per path (default: 3)')
    parser.add_argument('--paths', nargs='+', default=None,
                        help='only these paths (default: all)')
    parser.add_argument('--data-root', default='tests/data',
                        help='the bundled sample data (default: tests/data)')
    parser.add_argument('--work-dir', default='work_dirs/gpu_check')
    parser.add_argument('--out', default='gpu_check_report.json',
                        help='the JSON report (default: '
                        'gpu_check_report.json)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.iters < 2:
        sys.exit('--iters must be >= 2 (the first iteration is warm-up)')
    if args.device == 'cpu':
        # before torch initialises CUDA: the CPU run ignores any GPU
        os.environ['CUDA_VISIBLE_DEVICES'] = ''
    if not os.path.isdir(args.data_root):
        sys.exit(f'--data-root {args.data_root}: no such folder; run from '
                 'the root of an s5_mm clone (tests/data) or pass it')
    import s5_mm  # noqa: F401
    from s5_mm.selection.io import atomic_write_json
    from s5_mm.utils.gpu_check import (format_table, has_failures,
                                       run_gpu_check)
    import torch
    if args.device == 'cuda' and not torch.cuda.is_available():
        sys.exit('--device cuda: torch sees no GPU (torch.cuda.is_available()'
                 ' is False); check the driver and CUDA_VISIBLE_DEVICES')
    if args.device == 'auto' and not torch.cuda.is_available():
        print('gpu_check: no GPU visible: every path skipped (--device cpu '
              'runs them on the CPU)')
    report = run_gpu_check(args.device, args.iters, args.paths,
                           args.data_root, args.work_dir, args.gpus)
    atomic_write_json(args.out, report)
    print(format_table(report))
    print(f'report: {args.out}')
    failed = has_failures(report)
    if failed:
        print('gpu_check: FAILED paths: ' + ', '.join(
            n for n, r in report['paths'].items() if r['status'] == 'failed'
        ) + ' (their traceback is in the report)')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
