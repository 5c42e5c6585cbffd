"""S4P data at the paper's scale (issue 26): the selector's split file as a
dataset, in time and memory.

    nice python bench/s4p_data_scale.py [--only NAME ...] [--tmp DIR]
        [--in-memory]

Measurements (one function each, registered in ``MEASUREMENTS``; the JSON
summary is the last line of the output):

- ``split_build_over_read_1m``: ``UnlabeledImageDataset`` build time on a
  1,000,000-line split / the time to read the file alone
  (``open(...).read().splitlines()``), best of 3 each, in a fresh process.
  Goal <= 5 (landed code: about 140). The dataset maps its paths from a
  cache file (``s5_mm/selection/split_cache.py``, in a folder under
  ``--tmp``, emptied at the start): the first build of a split writes it
  (``build_s_first_1m``, ``first_build_over_read_1m``), the later builds
  and the node's other ranks map it.
- ``rss_growth_mb_1m``: resident memory of that process after its first
  build minus before (goal <= 100 MB; landed code: 777 MB); the peak during the
  build and the packed bytes are reported next to it.
- ``node_rss_mb_2x2_1m``: 2 ranks (torchrun, gloo) x 2 dataloader workers
  each, every process holding the 1M-line dataset and the workers reading
  from it: the sum of the six processes' proportional set sizes (PSS: a page
  shared by k processes counts 1/k) minus the same sum with a 1-line split,
  i.e. what the 1M split costs the node. Counted: anonymous memory
  (``node_pss_anon_mb_2x2_1m``) plus the mapped split cache files
  (``node_pss_cache_mb_2x2_1m``, counted once however many processes map
  them). Not counted: the shared libraries, whose PSS moves with the other
  processes on the machine that map them (torch: +-15 MB between runs on a
  shared machine); the plain difference of the PSS sums is reported as
  ``node_pss_all_mb_2x2_1m``. Goal <= 2x
  ``rss_growth_mb_1m`` (whose mapped pages count in RSS);
  ``node_over_packed_2x2``: the sum / the packed bytes of one process.
- ``split_build_s_10m``: build time of a 10,000,000-line split, its first
  (the cache file is written; goal 30 s).
- ``views_over_decode_512``: the S4P unlabeled pipeline per 512 px JPEG /
  decoding it, one thread (``bench/s4p_views.py``'s ``measure_views``;
  goal <= 4, present ops reported next to it).

The build reads the split file only (no per-line existence check), so the
listed paths need not exist: the bench writes split files of
``pool/NNNN/NNNNNNNN.jpg`` paths without creating 11 million files, and the
dataloader workers read the dataset's items (``get_data_info``) without
decoding images.
"""
import argparse
import gc
import json
import os
import os.path as osp
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from typing import Callable, Dict

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def write_split(path: str, num: int) -> str:
    """A split file of ``num`` distinct relative paths (written once)."""
    if not osp.isfile(path):
        with open(path + '.tmp', 'w', encoding='utf-8') as f:
            step = 1_000_000
            for start in range(0, num, step):
                f.write(''.join(f'pool/{i // 1000:05d}/{i:08d}.jpg\n'
                                for i in range(start, min(num, start + step))))
        os.replace(path + '.tmp', path)
    return path


def _proc_kb(field: str, pid='self', name='status') -> int:
    with open(f'/proc/{pid}/{name}') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise KeyError(field)


def _mapped_pss_kb(pid: int, folder: str) -> int:
    """PSS (kB) of the process's mappings of files under ``folder``."""
    total, inside = 0, False
    with open(f'/proc/{pid}/smaps') as f:
        for line in f:
            head = line.split()
            if '-' in head[0] and len(head) >= 5:  # a mapping's first line
                inside = len(head) == 6 and head[5].startswith(folder)
            elif inside and head[0] == 'Pss:':
                total += int(head[1])
    return total


def _dataset_cfg(split: str) -> dict:
    return dict(type='UnlabeledImageDataset', ann_file=split,
                data_prefix=dict(img_path='/nonexistent-pool'), pipeline=[],
                map_paths=not os.environ.get('S4P_BENCH_IN_MEMORY'))


def child_build(split: str, repeats: int) -> dict:
    """In a fresh process: read time, build time, memory (JSON)."""
    import s5_mm  # noqa: F401
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS
    init_default_scope('mmseg')
    DATASETS.build(_dataset_cfg(write_split(split + '.warm', 10)))
    gc.collect()
    rss0 = _proc_kb('VmRSS')
    peak0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    ds = DATASETS.build(_dataset_cfg(split))  # the one build a rank does
    build = [time.perf_counter() - t]
    gc.collect()
    rss1 = _proc_kb('VmRSS')
    peak1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for _ in range(repeats - 1):  # more builds, for the time only
        t = time.perf_counter()
        DATASETS.build(_dataset_cfg(split))
        build.append(time.perf_counter() - t)
    read = []
    for _ in range(repeats):
        t = time.perf_counter()
        with open(split, encoding='utf-8') as f:
            lines = f.read().splitlines()
        read.append(time.perf_counter() - t)
        del lines
    return dict(lines=len(ds), build_s=min(build), read_s=min(read),
                build_s_first=build[0],
                rss_growth_mb=(rss1 - rss0) / 1024,
                peak_growth_mb=max(0, peak1 - max(peak0, rss0)) / 1024,
                packed_mb=(ds.data_bytes.nbytes + ds.data_address.nbytes)
                / 2**20)


def child_ranks(split: str, batches: int) -> None:
    """One torchrun rank: build, iterate with 2 workers, report PSS/RSS of
    this rank and its workers (rank 0 prints the node's sums)."""
    import s5_mm  # noqa: F401
    import torch
    import torch.distributed as dist
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS
    dist.init_process_group('gloo')
    init_default_scope('mmseg')
    ds = DATASETS.build(_dataset_cfg(split))
    g = torch.Generator().manual_seed(dist.get_rank())
    loader = torch.utils.data.DataLoader(
        ds, batch_size=64, num_workers=2, persistent_workers=True,
        sampler=torch.utils.data.RandomSampler(
            ds, replacement=True, num_samples=64 * batches, generator=g),
        collate_fn=list)
    it = iter(loader)
    for _ in range(batches):
        next(it)
    gc.collect()
    pids = [os.getpid()] + [w.pid for w in it._workers]
    mine = [{k: _proc_kb(f, p, 'smaps_rollup') / 1024 for k, f in (
        ('pss_mb', 'Pss'), ('rss_mb', 'Rss'), ('pss_anon_mb', 'Pss_Anon'),
        ('pss_file_mb', 'Pss_File'))} for p in pids]
    for p, m in zip(pids, mine):
        m['pss_cache_mb'] = _mapped_pss_kb(
            p, osp.join(os.environ['S5_MM_CACHE_DIR'], '')) / 1024
    every = [None] * dist.get_world_size()
    dist.all_gather_object(every, mine)
    if dist.get_rank() == 0:
        procs = [p for r in every for p in r]
        sums = {k: sum(p[k] for p in procs) for k in procs[0]}
        print('RESULT ' + json.dumps(dict(
            processes=len(procs), per_process=procs, **sums)))
    dist.barrier()
    del it
    dist.destroy_process_group()


def _run_child(args: list, cache_dir: str, nproc: int = 0) -> dict:
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep +
               os.environ.get('PYTHONPATH', ''), OMP_NUM_THREADS='1',
               S5_MM_CACHE_DIR=cache_dir)
    cmd = [sys.executable, __file__] + args
    if nproc:
        with socket.socket() as s:
            s.bind(('127.0.0.1', 0))
            port = s.getsockname()[1]
        cmd = [sys.executable, '-m', 'torch.distributed.run',
               f'--nproc_per_node={nproc}', f'--master_port={port}'] + cmd[1:]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode:
        raise RuntimeError(f'{cmd} failed:\n{proc.stderr[-3000:]}')
    line = [x for x in proc.stdout.splitlines() if x.startswith('RESULT ')]
    return json.loads(line[-1][len('RESULT '):])


def _build_1m(ctx: dict) -> dict:
    if 'build_1m' not in ctx:
        split = write_split(osp.join(ctx['tmp'], 'split_1m.txt'), 10**6)
        ctx['build_1m'] = _run_child(['--child', 'build', split, '3'],
                                     ctx['cache'])
    return ctx['build_1m']


def split_build_over_read_1m(ctx: dict) -> dict:
    r = _build_1m(ctx)
    return dict(split_build_over_read_1m=round(r['build_s'] / r['read_s'], 2),
                first_build_over_read_1m=round(
                    r['build_s_first'] / r['read_s'], 2),
                build_s_1m=round(r['build_s'], 3),
                build_s_first_1m=round(r['build_s_first'], 3),
                read_s_1m=round(r['read_s'], 3))


def rss_growth_mb_1m(ctx: dict) -> dict:
    r = _build_1m(ctx)
    return dict(rss_growth_mb_1m=round(r['rss_growth_mb'], 1),
                peak_growth_mb_1m=round(r['peak_growth_mb'], 1),
                packed_mb_1m=round(r['packed_mb'], 1))


def node_rss_mb_2x2_1m(ctx: dict) -> dict:
    split = write_split(osp.join(ctx['tmp'], 'split_1m.txt'), 10**6)
    tiny = write_split(osp.join(ctx['tmp'], 'split_1.txt'), 1)
    big = _run_child(['--child', 'ranks', split, '50'], ctx['cache'], nproc=2)
    small = _run_child(['--child', 'ranks', tiny, '50'], ctx['cache'],
                       nproc=2)
    cache = big['pss_cache_mb'] - small['pss_cache_mb']
    anon = big['pss_anon_mb'] - small['pss_anon_mb']
    return dict(node_rss_mb_2x2_1m=round(anon + cache, 1),
                node_pss_cache_mb_2x2_1m=round(cache, 1),
                node_pss_anon_mb_2x2_1m=round(anon, 1),
                node_pss_all_mb_2x2_1m=round(
                    big['pss_mb'] - small['pss_mb'], 1),
                node_pss_total_mb_2x2_1m=round(big['pss_mb'], 1),
                node_pss_total_mb_2x2_1line=round(small['pss_mb'], 1),
                node_rss_sum_mb_2x2_1m=round(big['rss_mb'], 1),
                node_processes=big['processes'])


def split_build_s_10m(ctx: dict) -> dict:
    split = write_split(osp.join(ctx['tmp'], 'split_10m.txt'), 10**7)
    r = _run_child(['--child', 'build', split, '1'], ctx['cache'])
    return dict(split_build_s_10m=round(r['build_s'], 2),
                read_s_10m=round(r['read_s'], 2),
                rss_growth_mb_10m=round(r['rss_growth_mb'], 1),
                peak_growth_mb_10m=round(r['peak_growth_mb'], 1))


def views_over_decode_512(ctx: dict) -> dict:
    # bench/s4p_views.py: the unlabeled pipeline per 512 px JPEG / decoding
    sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
    from s4p_views import measure_views
    r = measure_views()
    return dict(views_over_decode_512=r['views_over_decode_512'],
                views_over_decode_512_before=r[
                    'views_over_decode_512_before'],
                views_ops_ms=r['ops_ms'])


#: name -> function(ctx) returning its numbers; add a measurement here
MEASUREMENTS: Dict[str, Callable[[dict], dict]] = dict(
    split_build_over_read_1m=split_build_over_read_1m,
    rss_growth_mb_1m=rss_growth_mb_1m,
    node_rss_mb_2x2_1m=node_rss_mb_2x2_1m,
    split_build_s_10m=split_build_s_10m,
    views_over_decode_512=views_over_decode_512)
GOALS = dict(split_build_over_read_1m=5, rss_growth_mb_1m=100,
             split_build_s_10m=30, views_over_decode_512=4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--only', nargs='+', choices=list(MEASUREMENTS))
    parser.add_argument('--tmp', help='folder for the split files (kept); '
                        'default: a temporary folder, removed at the end')
    parser.add_argument('--in-memory', action='store_true',
                        help='build with map_paths=False (every rank its '
                        'own copy of the paths): the numbers before the '
                        'split cache')
    parser.add_argument('--child', nargs='+', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, split, num = args.child
        if kind == 'build':
            print('RESULT ' + json.dumps(child_build(split, int(num))))
        else:
            child_ranks(split, int(num))
        return
    if args.in_memory:  # read by the children's _dataset_cfg
        os.environ['S4P_BENCH_IN_MEMORY'] = '1'
    tmp = args.tmp or tempfile.mkdtemp(prefix='s4p_data_scale_')
    os.makedirs(tmp, exist_ok=True)
    ctx, out = dict(tmp=tmp, cache=osp.join(tmp, 'split_cache')), {}
    shutil.rmtree(ctx['cache'], ignore_errors=True)  # first builds write
    try:
        for name in args.only or MEASUREMENTS:
            t = time.perf_counter()
            out.update(MEASUREMENTS[name](ctx))
            print(f'{name}: {out[name]} ({time.perf_counter() - t:.0f} s)',
                  flush=True)
    finally:
        if not args.tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    if 'node_rss_mb_2x2_1m' in out and 'packed_mb_1m' in out:
        out['node_over_packed_2x2'] = round(
            out['node_rss_mb_2x2_1m'] / out['packed_mb_1m'], 2)
    if 'node_rss_mb_2x2_1m' in out and 'rss_growth_mb_1m' in out:
        out['node_over_one_process_2x2'] = round(
            out['node_rss_mb_2x2_1m'] / max(out['rss_growth_mb_1m'], 1e-9), 2)
    out['goals_met'] = {k: out[k] <= v for k, v in GOALS.items() if k in out}
    if 'node_over_one_process_2x2' in out:
        out['goals_met']['node_rss_mb_2x2_1m'] = \
            out['node_over_one_process_2x2'] <= 2
    print(json.dumps(out))


if __name__ == '__main__':
    main()
