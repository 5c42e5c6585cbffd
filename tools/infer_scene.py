"""Predict a scene of any size, read window by window, with georeferenced
outputs a GIS opens.

    python tools/infer_scene.py SCENE CONFIG CKPT --out OUT [--dataset NAME]
        [--patch-size 1024] [--patch-overlap N] [--batch-size 4]
        [--bands 3 2 1] [--scale MIN MAX ... | --scale percentile]
        [--save-confidence] [--format gpkg|geojson] [--device cuda:0]

- SCENE: any raster GDAL reads (GeoTIFF, COG, JP2, VRT, PNG, JPEG, ...),
  never read whole (PNG / JPEG / GIF / BMP / WebP have no random access:
  they are decoded once, as the demo does).
- Segmentation configs (``default_scope='mmseg'``) write ``OUT.tif``: a
  tiled, deflate-compressed ``uint8`` label map with the scene's CRS and
  geotransform, the dataset palette as colour table, nodata 255 wherever the
  scene is nodata; ``--save-confidence`` adds band 2, the predicted class's
  probability in percent (0-100, nodata 255).
- Rotated-detection configs (``default_scope='mmrotate'``) write
  ``OUT.gpkg`` (``--format geojson``: ``OUT.geojson``): the merged boxes
  as polygons in the scene's CRS, with class, score, dataset and the
  pixel-space box.
- A scene without a CRS gives outputs in pixel coordinates (one log line).
  A PNG / JPEG scene also gets the picture ``OUT.png`` (mask blended or
  boxes drawn), as ``demo/image_demo.py`` draws it.
- ``--bands`` picks the file bands feeding the model's R, G, B (1-based).
  Bands that are not ``uint8`` are stretched per band between their 2 and
  98 % percentiles (from the overviews, else from 64 sampled windows;
  logged with the values) unless ``--scale`` gives MIN MAX (one pair, or one
  per band). See ``s5_mm/datasets/band_rule.py``.
- Windows that are all nodata are skipped; a progress bar counts windows.
- Resumable: finished window rows are kept in ``OUT.tif.parts/`` (or
  ``OUT.gpkg.parts/``); a killed run restarted with the same command skips
  them and writes the same output as an uninterrupted run.

See docs/scenes.md.
"""
import argparse
import hashlib
import os
import os.path as osp
from typing import Optional, Sequence

import cv2
from mmengine.logging import print_log

import s5_mm  # noqa: F401
from s5_mm.apis import (GeoPackageBoxSink, RasterLabelSink, RasterSource,
                        blend_segmentation, draw_rotated_boxes,
                        inference_detector_scene, inference_segmentor_scene,
                        init_predictor)
from s5_mm.apis.geo_export import DRIVERS
from s5_mm.apis.tool_config import load_tool_config

DEFAULT_OVERLAP = {'mmseg': 128, 'mmrotate': 200}
OUT_EXTS = ('.tif', '.tiff', '.gpkg', '.geojson', '.png')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='s5_mm scene inference (GeoTIFF in, GeoTIFF / '
        'GeoPackage out)')
    parser.add_argument('scene', help='raster file (GeoTIFF, COG, JP2, VRT, '
                        'PNG, ...)')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', required=True,
                        help='output name: OUT.tif (segmentation) or '
                        'OUT.gpkg (detection)')
    parser.add_argument(
        '--dataset',
        help='dataset whose expert and head predict (multi-dataset models)')
    parser.add_argument('--patch-size', type=int, default=1024,
                        help='window side in pixels')
    parser.add_argument('--patch-overlap', type=int, default=None,
                        help='window overlap in pixels (default: 128 '
                        'segmentation, 200 detection)')
    parser.add_argument('--batch-size', type=int, default=1,
                        help='windows per forward pass')
    parser.add_argument('--bands', type=int, nargs=3, default=None,
                        metavar='B', help='1-based file bands feeding R G B')
    parser.add_argument('--scale', nargs='+', default=None,
                        help="MIN MAX (all bands), one MIN MAX per band, or "
                        "'percentile' (the default for bands that are not "
                        'uint8)')
    parser.add_argument('--percentiles', type=float, nargs=2,
                        default=(2.0, 98.0), metavar=('LOW', 'HIGH'),
                        help='of the percentile stretch')
    parser.add_argument('--save-confidence', action='store_true',
                        help='segmentation: add a confidence band (%%)')
    parser.add_argument('--format', choices=sorted(DRIVERS), default='gpkg',
                        help='detection output format')
    parser.add_argument('--score-thr', type=float, default=0.3,
                        help='detection: boxes scoring lower are neither '
                        'written nor drawn')
    parser.add_argument('--nms-iou', type=float, default=0.1,
                        help='detection: rotated-NMS IoU merging windows')
    parser.add_argument('--device', default='cpu', help='e.g. cpu, cuda:0')
    return parser.parse_args(argv)


def parse_scale(values: Optional[Sequence[str]]):
    """``--scale`` -> None, ``'percentile'``, (MIN, MAX) or pairs."""
    if values is None or values == ['percentile']:
        return None if values is None else 'percentile'
    try:
        numbers = [float(v) for v in values]
    except ValueError:
        numbers = []
    if not numbers or len(numbers) % 2:
        raise ValueError(f'--scale {" ".join(values)}: give MIN MAX, one '
                         "MIN MAX per band, or 'percentile'")
    pairs = [tuple(numbers[i:i + 2]) for i in range(0, len(numbers), 2)]
    return pairs[0] if len(pairs) == 1 else pairs


def _file_id(path: str) -> dict:
    stat = os.stat(path)
    return dict(path=osp.abspath(path), size=stat.st_size,
                mtime_ns=stat.st_mtime_ns)


def signature(args: argparse.Namespace, task: str) -> dict:
    """What a resumed run must share with the run it resumes."""
    with open(args.config, 'rb') as f:
        config_hash = hashlib.sha256(f.read()).hexdigest()
    keys = ('dataset', 'patch_size', 'patch_overlap', 'batch_size', 'bands',
            'scale', 'percentiles', 'save_confidence', 'format', 'score_thr',
            'nms_iou', 'device')
    return dict(task=task, scene=_file_id(args.scene), config=config_hash,
                checkpoint=_file_id(args.checkpoint),
                **{k: getattr(args, k) for k in keys})


def _write_picture(image, path: str) -> None:
    tmp = f'{path}.tmp.png'
    if not cv2.imwrite(tmp, image):
        raise OSError(f'could not write {path}: check the folder')
    os.replace(tmp, path)


def main(argv: Optional[Sequence[str]] = None) -> dict:
    """Run the tool; returns ``dict(output=..., picture=..., result=...)``
    (``result``: the detections, for detection configs)."""
    args = parse_args(argv)
    cfg, scope = load_tool_config(
        args.config, DEFAULT_OVERLAP, 'scene inference',
        dict(scene=args.scene, config=args.config,
             checkpoint=args.checkpoint))
    if args.patch_overlap is None:
        args.patch_overlap = DEFAULT_OVERLAP[scope]
    source = RasterSource(args.scene, args.bands, parse_scale(args.scale),
                          tuple(args.percentiles))
    crs, transform = source.crs, source.transform
    if crs is None:
        print_log(f'{args.scene} has no CRS: the outputs are in pixel '
                  'coordinates (x right, y down)', logger='current')
    model, pipeline, meta, dataset = init_predictor(
        cfg, args.checkpoint, args.device, args.dataset)
    base = args.out[:-len(osp.splitext(args.out)[1])] \
        if args.out.lower().endswith(OUT_EXTS) else args.out
    os.makedirs(osp.dirname(osp.abspath(base)), exist_ok=True)
    window = dict(patch_size=args.patch_size,
                  patch_overlap=args.patch_overlap,
                  batch_size=args.batch_size, progress=True)
    out = dict(picture=None, result=None)
    if scope == 'mmseg':
        sink = RasterLabelSink(f'{base}.tif', source.height, source.width,
                               crs, transform, signature(args, scope),
                               meta.get('palette'), args.save_confidence)
        out['output'] = inference_segmentor_scene(
            model, pipeline, source, sink, **window)
    else:
        sink = GeoPackageBoxSink(
            f'{base}.{args.format}', signature(args, scope),
            meta['classes'], dataset, crs, transform, DRIVERS[args.format],
            args.score_thr)
        out['result'] = inference_detector_scene(
            model, pipeline, source, sink, nms_iou=args.nms_iou, **window)
        out['output'] = sink.progress.out_file
    if source.in_memory:
        out['picture'] = f'{base}.png'
        image = source.read(0, 0, source.width, source.height)[0].copy()
        if scope == 'mmseg':
            import rasterio
            with rasterio.open(out['output']) as ds:
                labels = ds.read(1)
            picture = blend_segmentation(image, labels, meta['palette'])
        else:
            picture = draw_rotated_boxes(image, out['result'], meta,
                                         args.score_thr)
        _write_picture(picture, out['picture'])
    source.close()
    print_log(f"saved {out['output']}" + (
        f" and {out['picture']}" if out['picture'] else ''),
        logger='current')
    return out


if __name__ == '__main__':
    main()
