"""Benchmark of the data selector (issue 7).

Measures

* ``scoring_overhead``: time of scoring (forward + entropy + pooled feature,
  :func:`s5_mm.selection.scoring.score_batch`) / time of plain inference of
  the same model on the same preprocessed images (the same forward and the
  argmax prediction, no feature hook), over interleaved rounds whose order
  rotates; the median pair-wise ratio is reported (goal <= 1.05).
  ``scoring_overhead_vs_logits`` divides by the bare forward pass (logits,
  no argmax) instead: the strict cost of entropy + feature pooling (torch's
  CPU argmax over the class axis costs more than the entropy).
* ``select_1m_seconds`` / ``select_1m_peak_rss_mb``: nearest-centroid
  assignment (faiss, 64 clusters) + quota selection of 1,000,000 synthetic
  candidates whose 768-d float16 features are on disk, measured in a fresh
  process (not the one that wrote the data) that imports only the
  torch-free selection modules, as ``tools/select_data.py select`` does.
  Peak RSS = ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` of that process.
  Goals <= 10 s and <= 1024 MB. The same for 250,000 candidates shows the
  growth.

Usage::

    python bench/selector_scale.py [--tmp-dir /tmp] [--pairs 7]

The synthetic feature files (1.5 GB for 1M x 768 float16) are written under
``--tmp-dir`` and deleted at the end. The last line printed is a JSON object.
"""
import argparse
import json
import os
import os.path as osp
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEMO_CFG = osp.join(
    REPO, 'configs/demo/upernet_vit-tiny_1xb4-60iter_loveda-sample-64x64.py')


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--tmp-dir', default=tempfile.gettempdir())
    p.add_argument('--pairs', type=int, default=15,
                   help='interleaved rounds for scoring_overhead')
    p.add_argument('--config', default=DEMO_CFG,
                   help='segmentor config for scoring_overhead')
    p.add_argument('--img-scale', type=int, default=256,
                   help='test Resize scale for scoring_overhead')
    p.add_argument('--num-images', type=int, default=32)
    p.add_argument('--threads', type=int, default=1,
                   help='torch threads for scoring_overhead (1 = least '
                   'sensitive to other load on the machine)')
    p.add_argument('--batch-size', type=int, default=8)
    p.add_argument('--sizes', type=int, nargs='+', default=[1000000, 250000])
    p.add_argument('--dim', type=int, default=768)
    p.add_argument('--clusters', type=int, default=64)
    p.add_argument('--chunk-rows', type=int, default=32768)
    # internal: the data-writing and the measuring child processes
    p.add_argument('--make', nargs=2, metavar=('DIR', 'NUM'),
                   help=argparse.SUPPRESS)
    p.add_argument('--worker', nargs=3, metavar=('FEAT', 'ENT', 'CENT'),
                   help=argparse.SUPPRESS)
    return p.parse_args()


def scoring_overhead(args) -> dict:
    """Median ratio scoring time / plain inference time (interleaved)."""
    import s5_mm  # noqa: F401
    import torch
    from mmengine.config import Config
    from mmseg.apis import init_model

    from s5_mm.selection import FeatureRecorder, list_pool
    from s5_mm.selection.scoring import (build_scoring_pipeline,
                                         forward_batch, score_batch)

    torch.set_num_threads(args.threads)
    cfg = Config.fromfile(args.config)
    for t in cfg.test_dataloader.dataset.pipeline:
        if t['type'] == 'Resize':
            t['scale'] = (args.img_scale, args.img_scale)
    torch.manual_seed(0)
    model = init_model(cfg, None, device='cpu').eval()
    pipeline = build_scoring_pipeline(cfg)
    root = osp.join(REPO, 'tests/data/unlabeled')
    paths = list_pool(root)[:args.num_images]
    samples = [pipeline(dict(img_path=osp.join(root, p), seg_fields=[],
                             reduce_zero_label=False)) for p in paths]
    batches = [samples[i:i + args.batch_size]
               for i in range(0, len(samples), args.batch_size)]

    @torch.no_grad()
    def plain():  # inference as a user runs it: logits + argmax prediction
        for b in batches:
            logits, _ = forward_batch(model, b)
            logits.argmax(1)

    @torch.no_grad()
    def logits_only():  # the bare forward pass, the strictest baseline
        for b in batches:
            forward_batch(model, b)

    def scoring():
        recorder = FeatureRecorder(model, 'backbone', -1)
        for b in batches:
            score_batch(model, b, recorder)
        recorder.remove()

    def timed(fn):
        t = time.perf_counter()
        fn()
        return time.perf_counter() - t

    runs = dict(plain=plain, logits=logits_only, scoring=scoring)
    for fn in runs.values():  # warm-up
        fn()
    times = {k: [] for k in runs}
    ratios, ratios_logits = [], []
    names = list(runs)
    for k in range(args.pairs):
        # interleaved, the order rotating from round to round
        order = names[k % 3:] + names[:k % 3]
        got = {name: timed(runs[name]) for name in order}
        for name, t in got.items():
            times[name].append(t)
        ratios.append(got['scoring'] / got['plain'])
        ratios_logits.append(got['scoring'] / got['logits'])
    n = len(samples)
    return dict(
        scoring_overhead=round(statistics.median(ratios), 4),
        scoring_overhead_vs_logits=round(statistics.median(ratios_logits), 4),
        scoring_pairs=args.pairs,
        plain_images_per_s=round(n / statistics.median(times['plain']), 1),
        logits_images_per_s=round(n / statistics.median(times['logits']), 1),
        scoring_images_per_s=round(n / statistics.median(times['scoring']),
                                   1),
        scoring_model=osp.basename(args.config),
        scoring_input=f'{args.img_scale}px, batch {args.batch_size}, '
        f'{args.threads} thread(s)')


def make_data(folder: str, num: int, dim: int, clusters: int,
              chunk: int = 65536):
    """Write clustered float16 features, entropies and centroids to disk."""
    rng = np.random.default_rng(0)
    centers = rng.standard_normal((clusters, dim)).astype(np.float32)
    feat = osp.join(folder, f'feat_{num}.npy')
    out = np.lib.format.open_memmap(feat, mode='w+', dtype=np.float16,
                                    shape=(num, dim))
    for s in range(0, num, chunk):
        n = min(chunk, num - s)
        ids = rng.integers(0, clusters, n)
        x = centers[ids] + rng.standard_normal((n, dim), np.float32)
        out[s:s + n] = x
    out.flush()
    del out
    ent = osp.join(folder, f'ent_{num}.npy')
    np.save(ent, rng.random(num, dtype=np.float32) * np.log(16))
    cent = osp.join(folder, f'cent_{clusters}.npy')
    np.save(cent, centers)
    return feat, ent, cent


def worker(feat: str, ent: str, cent: str, chunk_rows: int) -> None:
    """Child process: assignment + quota selection, time and peak RSS."""
    sys.path.insert(0, osp.join(REPO, 'tools'))
    from select_data import lean_steps
    steps = lean_steps()
    pkg = steps.__name__.rsplit('.', 1)[0]
    clustering = sys.modules[f'{pkg}.clustering']
    quota = sys.modules[f'{pkg}.quota']
    assert 'torch' not in sys.modules
    centroids = np.load(cent)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t = time.perf_counter()
    ids, _ = clustering.assign_npy(feat, centroids, normalize=True,
                                   chunk_rows=chunk_rows)
    entropy = np.load(ent)
    res = quota.select_low_entropy(entropy, ids, len(ids) // 10,
                                   np.ones(len(centroids)))
    seconds = time.perf_counter() - t
    print(json.dumps(dict(
        seconds=round(seconds, 3),
        peak_rss_mb=round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        rss_after_imports_mb=round(rss_before, 1),
        selected=int(len(res['selected'])))))


def select_scale(args) -> dict:
    out = {}
    if args.tmp_dir:
        os.makedirs(args.tmp_dir, exist_ok=True)
    folder = tempfile.mkdtemp(prefix='s5_selector_bench_', dir=args.tmp_dir)
    try:
        for num in args.sizes:
            # each step in a process of its own: Linux keeps ru_maxrss
            # across fork + exec, so the measuring process must be forked
            # from a small one (this one never holds the data)
            proc = subprocess.run(
                [sys.executable, __file__, '--make', folder, str(num),
                 '--dim', str(args.dim), '--clusters', str(args.clusters)],
                check=True, capture_output=True, text=True)
            feat, ent, cent = json.loads(proc.stdout.strip().splitlines()[-1])
            proc = subprocess.run(
                [sys.executable, __file__, '--worker', feat, ent, cent,
                 '--chunk-rows', str(args.chunk_rows)],
                check=True, capture_output=True, text=True)
            res = json.loads(proc.stdout.strip().splitlines()[-1])
            tag = f'{num // 1000}k' if num % 1000000 else f'{num // 1000000}m'
            out[f'select_{tag}_seconds'] = res['seconds']
            out[f'select_{tag}_peak_rss_mb'] = res['peak_rss_mb']
            out[f'select_{tag}_rss_after_imports_mb'] = res[
                'rss_after_imports_mb']
            os.remove(feat)
    finally:
        shutil.rmtree(folder)
    out.update(select_dim=args.dim, select_clusters=args.clusters,
               select_chunk_rows=args.chunk_rows, cpu_cores=os.cpu_count())
    return out


def main():
    args = parse_args()
    if args.make:
        print(json.dumps(make_data(args.make[0], int(args.make[1]), args.dim,
                                   args.clusters)))
        return
    if args.worker:
        worker(*args.worker, args.chunk_rows)
        return
    result = select_scale(args)
    result.update(scoring_overhead(args))
    result['goals'] = dict(scoring_overhead=1.05, select_1m_seconds=10,
                           select_1m_peak_rss_mb=1024)
    print(json.dumps(result))


if __name__ == '__main__':
    main()
