"""Bench: georeferenced scenes window by window (``tools/infer_scene.py``'s
code path) with tiny random models (the shipped LoveDA SDF segmentor and
the MoE-MDF rotated detector, shrunk).

Makes tiled, deflate-compressed UTM GeoTIFFs: an 8192 px scene of a
repeated LoveDA tile, and a 65536 px scene whose top-left 8192 px are the
same and the rest nodata (left sparse: the file stays small and the same
windows reach the model, so the 64k run measures what the scene's SIZE
costs). Each run is a process of its own; the JSON last line has:

- ``rss_growth_64k_over_8k``: (peak RSS - RSS before the scene run, model
  already built) of the 65536 px scene / the same of the 8192 px scene,
  segmentation. Goal <= 1.2. ``det_rss_growth_64k_over_8k`` beside
  ``det_boxes_8k`` / ``det_boxes_64k``: detection keeps boxes until the
  merge, so its memory follows the box count.
- ``window_overhead``: seconds per window of the scene path (window reads
  from a GeoTIFF, band rule, inference, stitching, GeoTIFF parts and
  assembly) / the same windows, read beforehand, through the model alone
  (pipeline + ``test_step``) in the same batches; median of interleaved
  rounds. Goal <= 1.15.
- ``georef_equal``: 1 when every output's CRS (and, for the GeoTIFFs, the
  transform) equals the input's.
- ``seam_agreement_nearest`` / ``seam_agreement_blend``: share of pixels
  where a patch-wise label map (nearest-centre seams / logits averaged in
  the overlap, as mmseg's slide inference) equals the whole-image
  prediction of a 1024 px scene at the same resolution (no resize); with
  ``seam_changed_share``: pixels where the two rules differ.
"""
import argparse
import json
import os
import os.path as osp
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
SEG_CFG = 'sdf_vit-b_upernet_8xb12-100e_loveda-512x512.py'
DET_CFG = ('moe-mdf-p256_vit-b_oriented-rcnn-le90_8xb2-12e_dior-r-dota2-'
           '1024x1024.py')
UTM = 'EPSG:32650'
PATCH, OVERLAP, BATCH = 1024, 128, 2


def tile() -> np.ndarray:
    import mmcv
    return mmcv.imread(osp.join(ROOT, 'tests/data/loveda/img_dir/0.png'))


def make_scene(path: str, size: int, data: int) -> None:
    """``size`` px GeoTIFF; its top-left ``data`` px repeat the LoveDA tile
    (flipped per tile), the rest is nodata (0), never written (sparse)."""
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.windows import Window
    t = tile()
    side = t.shape[0]
    with rasterio.open(path, 'w', driver='GTiff', width=size, height=size,
                       count=3, dtype='uint8', nodata=0, crs=UTM,
                       transform=from_origin(400000, 4500000, 0.3, 0.3),
                       tiled=True, blockxsize=256, blockysize=256,
                       compress='deflate', sparse_ok=True,
                       bigtiff='yes') as ds:
        for y in range(0, data, side):
            for x in range(0, data, side):
                flip = t[::(-1)**(y // side), ::(-1)**(x // side)]
                ds.write(np.maximum(flip[..., ::-1], 1).transpose(2, 0, 1),
                         window=Window(x, y, side, side))


def tiny(task: str, work_dir: str):
    sys.path.insert(0, osp.join(ROOT, 'tests'))
    from s5mm_tiny_configs import save_random_checkpoint, tiny_config
    if task == 'seg':
        cfg = tiny_config(SEG_CFG)
    else:
        cfg = tiny_config(DET_CFG, **{
            'model.test_cfg.rcnn.score_thr': 0.0,
            'model.test_cfg.rpn.nms_pre': 200,
            'model.test_cfg.rpn.max_per_img': 40,
            'model.test_cfg.rcnn.max_per_img': 20})
    return cfg, save_random_checkpoint(cfg, work_dir)


def rss() -> int:
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')


def scene_run(task: str, scene: str, work_dir: str) -> dict:
    """Child: model built first, then the scene run; peak RSS growth."""
    import rasterio
    from s5_mm.apis import (GeoPackageBoxSink, RasterLabelSink,
                            RasterSource, inference_detector_scene,
                            inference_segmentor_scene, init_predictor)
    from mmengine.registry import init_default_scope
    cfg, (_, ckpt, _) = tiny(task, work_dir)
    init_default_scope(cfg.default_scope)
    model, pipeline, meta, name = init_predictor(
        cfg, ckpt, 'cpu', 'dota' if task == 'det' else None)
    before = rss()
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    t0 = time.perf_counter()
    source = RasterSource(scene)
    out = osp.join(work_dir, f'{task}_out')
    if task == 'seg':
        sink = RasterLabelSink(out + '.tif', source.height, source.width,
                               source.crs, source.transform, {},
                               meta['palette'])
        path = inference_segmentor_scene(model, pipeline, source, sink,
                                         PATCH, OVERLAP, BATCH)
        with rasterio.open(path) as ds:
            georef = ds.crs == source.crs and ds.transform == \
                source.transform
        boxes = None
    else:
        sink = GeoPackageBoxSink(out + '.gpkg', {}, meta['classes'], name,
                                 source.crs, source.transform)
        result = inference_detector_scene(model, pipeline, source, sink,
                                          PATCH, 200, batch_size=BATCH)
        from pyogrio import read_info
        georef = read_info(out + '.gpkg')['crs'] == UTM
        boxes = len(result.pred_instances)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    if peak <= peak_before:
        raise RuntimeError('the peak RSS was reached before the scene run')
    return dict(growth=peak - before, seconds=seconds, georef=int(georef),
                boxes=boxes)


def child(task: str, scene: str) -> dict:
    proc = subprocess.run(
        ['nice', '-n', '5', sys.executable, __file__, '--child', task,
         scene], capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f'the {task} run on {scene} failed')
    return json.loads(proc.stdout.strip().splitlines()[-1])


def overhead(work_dir: str, rounds: int) -> dict:
    """Scene path vs the model alone on the windows of a 3072 px scene."""
    import torch
    from s5_mm.apis import (RasterLabelSink, RasterSource, find_dataset,
                            build_inference_pipeline, inference_images,
                            inference_segmentor_scene, patch_offsets)
    torch.set_num_threads(1)
    cfg, (_, _, model) = tiny('seg', work_dir)
    pipeline = build_inference_pipeline(find_dataset(cfg))
    scene = osp.join(work_dir, 'overhead.tif')
    make_scene(scene, 3072, 3072)
    source = RasterSource(scene)
    offsets = patch_offsets(3072, 3072, PATCH, OVERLAP)
    crops = [source.read(x, y, PATCH, PATCH)[0] for x, y in offsets]
    per_row = int(len(offsets) ** 0.5)

    def alone():
        for r in range(0, len(crops), per_row):
            row = crops[r:r + per_row]
            for i in range(0, len(row), BATCH):
                inference_images(model, pipeline, row[i:i + BATCH])

    def scene_mode():
        src = RasterSource(scene)
        sink = RasterLabelSink(osp.join(work_dir, 'o.tif'), 3072, 3072,
                               src.crs, src.transform, {})
        inference_segmentor_scene(model, pipeline, src, sink, PATCH,
                                  OVERLAP, BATCH)

    alone(), scene_mode()  # warm-up
    ratios = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        alone()
        t1 = time.perf_counter()
        scene_mode()
        ratios.append((time.perf_counter() - t1) / (t1 - t0))
    return dict(window_overhead=statistics.median(ratios),
                overhead_windows=len(crops))


def seams(work_dir: str) -> dict:
    """Nearest-centre seams vs logit averaging against the whole image."""
    import torch
    from s5_mm.apis import (build_inference_pipeline, find_dataset,
                            inference_images, inference_segmentor_large_scene,
                            patch_offsets)
    cfg, (_, _, model) = tiny('seg', work_dir)
    dataset_cfg = find_dataset(cfg)
    dataset_cfg['pipeline'] = [t for t in dataset_cfg['pipeline']
                               if 'Resize' not in t['type']]
    pipeline = build_inference_pipeline(dataset_cfg)
    scene = tile()
    whole = inference_images(model, pipeline, [scene])[0]
    ref = whole.pred_sem_seg.data[0].numpy()
    patch, overlap = 384, 128
    nearest = inference_segmentor_large_scene(
        model, scene, pipeline, patch, overlap,
        BATCH).pred_sem_seg.data[0].numpy()
    acc = torch.zeros_like(whole.seg_logits.data)
    count = torch.zeros(acc.shape[1:])
    for x, y in patch_offsets(*scene.shape[:2], patch, overlap):
        res = inference_images(model, pipeline,
                               [scene[y:y + patch, x:x + patch]])[0]
        acc[:, y:y + patch, x:x + patch] += res.seg_logits.data
        count[y:y + patch, x:x + patch] += 1
    blend = (acc / count).argmax(0).numpy()
    return dict(seam_agreement_nearest=float((nearest == ref).mean()),
                seam_agreement_blend=float((blend == ref).mean()),
                seam_changed_share=float((nearest != blend).mean()),
                seam_classes_in_reference=int(len(np.unique(ref))))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--sizes', type=int, nargs=2, default=(8192, 65536))
    parser.add_argument('--child', nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix='s5mm_geotiff_') as tmp:
        if args.child:
            print(json.dumps(scene_run(*args.child, tmp)))
            return
        small, large = args.sizes
        files = {}
        for size in (small, large):
            files[size] = osp.join(tmp, f'scene_{size}.tif')
            make_scene(files[size], size, small)
        runs = {(task, size): child(task, files[size])
                for task in ('seg', 'det') for size in (small, large)}
        result = dict(
            rss_growth_64k_over_8k=runs['seg', large]['growth'] /
            runs['seg', small]['growth'],
            det_rss_growth_64k_over_8k=runs['det', large]['growth'] /
            runs['det', small]['growth'],
            det_boxes_8k=runs['det', small]['boxes'],
            det_boxes_64k=runs['det', large]['boxes'],
            georef_equal=int(all(r['georef'] for r in runs.values())))
        result.update(overhead(tmp, args.rounds))
        result.update(seams(tmp))
        result.update(
            {f'{t}_{s}_growth_mb': runs[t, s]['growth'] / 2**20
             for t, s in runs},
            **{f'{t}_{s}_seconds': runs[t, s]['seconds'] for t, s in runs},
            **{f'file_mb_{s}': os.path.getsize(f) / 2**20
               for s, f in files.items()},
            sizes=[small, large])
    print(json.dumps(result))


if __name__ == '__main__':
    main()
