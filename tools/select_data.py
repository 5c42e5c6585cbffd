"""Entropy + diversity selection of an unlabeled pool (S5 stage 1).

Steps (outputs under WORK_DIR, see s5_mm/selection/layout.py and
docs/selection.md):

    # 1. score the unlabeled pool and the labeled set (sharded over ranks,
    #    resumable: run the same command again after a kill)
    python tools/select_data.py score CONFIG CHECKPOINT --work-dir W \\
        --pool-root POOL [--pool-list LIST] \\
        --labeled-root LAB [--labeled-list L]
    # 2. K-Means (faiss) on labeled features, nearest-centroid assignment
    python tools/select_data.py cluster --work-dir W --num-clusters 64
    # 3. quotas + lowest-entropy-first selection, split file + report
    python tools/select_data.py select --work-dir W --budget 100000 \\
        [--quota-mode proportional|equal] [--split-file PATH]
    # or all three at once
    python tools/select_data.py all CONFIG CHECKPOINT --work-dir W ... \\
        --num-clusters 64 --budget 100000
    # read every image of a split file once (exists, decodes), in parallel
    python tools/select_data.py check --pool-root ROOT --pool-list SPLIT \\
        [--workers N] [--work-dir W]

Every setting flag and its default comes from
s5_mm/selection/settings.py (SelectionSettings), shared with the hook.

Multi-GPU / slurm scoring: tools/dist_select.sh, tools/slurm_select.sh.
"""
import argparse
import hashlib
import importlib
import importlib.util
import logging
import os
import os.path as osp
import sys
import types

from mmengine.config import DictAction

# torch (imported by `import s5_mm`) alone leaves ~700 MB resident; the
# cluster/select steps need only numpy + faiss, so they load
# s5_mm/selection/cluster_select.py without running s5_mm/__init__ (see
# lean_steps).
LEAN_PACKAGE = '_s5_mm_selection_lean'
# a plain logger: mmengine's MMLogger imports torch to learn the rank
LOGGER = logging.getLogger('s5_select')


def lean_steps(name: str = 'cluster_select') -> types.ModuleType:
    """``s5_mm.selection.<name>`` (default: the cluster and select steps)
    imported without torch.

    If s5_mm is already imported, its own module is returned; otherwise the
    selection folder is mounted as a bare package (its ``__init__`` and the
    torch-based scorer are not executed).
    """
    if 's5_mm' in sys.modules:
        return importlib.import_module(f's5_mm.selection.{name}')
    if LEAN_PACKAGE not in sys.modules:
        spec = importlib.util.find_spec('s5_mm')
        root = (spec.submodule_search_locations[0] if spec is not None else
                osp.join(osp.dirname(osp.abspath(__file__)), '..', 's5_mm'))
        pkg = types.ModuleType(LEAN_PACKAGE)
        pkg.__path__ = [osp.join(root, 'selection')]
        sys.modules[LEAN_PACKAGE] = pkg
    return importlib.import_module(f'{LEAN_PACKAGE}.{name}')


def _add_pool_args(p: argparse.ArgumentParser) -> None:
    p.add_argument('--pool-root', required=True,
                   help='unlabeled pool folder (split paths are relative '
                   'to it)')
    p.add_argument('--pool-list', help='optional split file of pool images '
                   '(relative to --pool-root); default: walk the folder')
    p.add_argument('--keep-duplicates', action='store_true',
                   help='keep paths listed twice in a list file (default: '
                   'an error naming both lines)')


def _add_score_args(p: argparse.ArgumentParser) -> None:
    p.add_argument('config', help='mmseg config of the scoring segmentor')
    p.add_argument('checkpoint', help='its checkpoint')
    _add_pool_args(p)
    p.add_argument('--labeled-root', help='labeled image folder (features '
                   'for K-Means); required by "all"')
    p.add_argument('--labeled-list', help='optional list of labeled images')
    lean_steps('settings').add_setting_args(p, 'score')
    p.add_argument('--device',
                   help='default: cuda:LOCAL_RANK if CUDA, else cpu')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override config settings, key=value')
    p.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                   default='none', help='job launcher for sharded scoring')
    p.add_argument('--local_rank', '--local-rank', type=int, default=0)


def _add_cluster_args(p: argparse.ArgumentParser) -> None:
    lean_steps('settings').add_setting_args(p, 'cluster')


def _add_select_args(p: argparse.ArgumentParser) -> None:
    lean_steps('settings').add_setting_args(p, 'select')
    p.add_argument('--split-file', help='also write the split file here')


def _add_check_args(p: argparse.ArgumentParser) -> None:
    _add_pool_args(p)
    p.add_argument('--workers', type=int, default=os.cpu_count() or 1,
                   help='parallel readers (default: all CPUs)')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='S5 data selection: entropy + diversity')
    sub = parser.add_subparsers(dest='step', required=True)
    steps = dict(
        score=[_add_score_args],
        cluster=[_add_cluster_args],
        select=[_add_select_args],
        all=[_add_score_args, _add_cluster_args, _add_select_args],
        check=[_add_check_args])
    helps = dict(
        check='read every image of a pool or split file once (exists, '
        'decodes), in parallel; exit 1 if any cannot be loaded',
        score='score the pool (and labeled set): entropy + pooled feature',
        cluster='faiss K-Means on labeled features, assign the pool',
        select='per-cluster quotas, lowest entropy first; split + report',
        all='score, cluster and select in one run')
    for name, adders in steps.items():
        p = sub.add_parser(name, help=helps[name])
        p.add_argument('--work-dir', required=name != 'check',
                       help='output folder (check: where rejects.tsv goes)')
        for add in adders:
            add(p)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ and hasattr(args, 'local_rank'):
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def _init_dist(launcher: str) -> None:
    """mmengine's launcher setup on GPUs; plain gloo for CPU-only runs
    (mmengine's pytorch launcher always selects a CUDA device)."""
    import torch
    from mmengine.dist import init_dist
    if torch.cuda.is_available():
        init_dist(launcher, backend='nccl')
    elif launcher == 'pytorch':
        torch.distributed.init_process_group(backend='gloo')
    else:
        raise RuntimeError(f'--launcher {launcher} needs CUDA; on CPU use '
                           'tools/dist_select.sh (torchrun, gloo)')


def _score(args: argparse.Namespace) -> None:
    """The score step, or for "all" the whole selection (the function the
    selector hook calls)."""
    import s5_mm  # noqa: F401  (checks the stack, registers s5_mm components)
    import torch
    from mmengine.config import Config
    from mmseg.apis import init_model

    from s5_mm.selection import (SelectionSettings, build_scoring_pipeline,
                                 list_pool, run_selection, score_pools)
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'config file not found: {args.config}')
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {args.checkpoint}')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if args.launcher != 'none':
        _init_dist(args.launcher)
    device = args.device or (f'cuda:{os.environ["LOCAL_RANK"]}'
                             if torch.cuda.is_available() else 'cpu')
    model = init_model(cfg, args.checkpoint, device=device)
    pipeline = build_scoring_pipeline(cfg)
    fingerprint = dict(
        config_sha1=hashlib.sha1(cfg.pretty_text.encode()).hexdigest(),
        checkpoint=osp.abspath(args.checkpoint),
        checkpoint_bytes=osp.getsize(args.checkpoint))
    settings = SelectionSettings.from_args(args)
    pools = dict(unlabeled=(args.pool_root,
                            list_pool(args.pool_root, args.pool_list,
                                      keep_duplicates=args.keep_duplicates)))
    if args.labeled_root:
        pools['labeled'] = (args.labeled_root,
                            list_pool(args.labeled_root, args.labeled_list))
    if args.step == 'all':
        run_selection(model, pipeline, args.work_dir, pools, settings,
                      args.split_file, fingerprint, logger=LOGGER)
    else:
        score_pools(model, pipeline, args.work_dir, pools, settings,
                    fingerprint, LOGGER)


def _check(args: argparse.Namespace) -> int:
    """The check step: every image read and decoded once."""
    import s5_mm  # noqa: F401
    from s5_mm.selection.pool_check import check_pool
    out = None if args.work_dir is None else osp.join(args.work_dir,
                                                      'rejects.tsv')
    bad = check_pool(args.pool_root, args.pool_list, args.workers, out,
                     args.keep_duplicates, LOGGER)
    return 1 if bad else 0


def main(argv=None) -> int:
    args = parse_args(argv)
    if not LOGGER.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(
            '%(asctime)s - s5_select - %(levelname)s - %(message)s'))
        LOGGER.addHandler(handler)
        LOGGER.setLevel(logging.INFO)
        LOGGER.propagate = False
    if args.step == 'all' and not args.labeled_root:
        raise ValueError('"all" needs --labeled-root (labeled features are '
                         'what K-Means clusters)')
    if args.step == 'check':
        return _check(args)
    if args.step in ('score', 'all'):
        _score(args)
        return 0
    if int(os.environ.get('RANK', '0')) != 0:
        return 0  # cluster / select: one process
    steps = lean_steps()
    work = lean_steps('layout').SelectionWorkDir.of(args.work_dir)
    settings = lean_steps('settings').SelectionSettings.from_args(args)
    if args.step == 'cluster':
        steps.cluster_pools(work.labeled, work.unlabeled, work.clusters,
                            settings, LOGGER)
    else:
        steps.select_pool(work.unlabeled, work.clusters, work.selection,
                          settings, args.split_file, LOGGER)
    return 0


if __name__ == '__main__':
    sys.exit(main())
