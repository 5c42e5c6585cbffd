"""tools/infer_scene.py on GeoTIFFs made here from the bundled LoveDA and
DOTA images, with a UTM CRS and a geotransform: label maps and polygons
against the in-memory large-scene API, nodata, 16-bit 4-band scenes, a
killed and restarted run, a scene without CRS, unreadable files."""
import glob
import importlib.util
import logging
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import mmcv
import numpy as np
import pytest
import rasterio
from mmengine.logging import MMLogger
from pyogrio.raw import read as read_vector
from rasterio.transform import Affine, from_origin

import s5_mm.apis.large_scene as large_scene
from s5_mm.apis import (ArrayLabelSink, ArraySource, build_inference_pipeline,
                        dataset_metainfo, find_dataset, inference_images,
                        inference_detector_large_scene,
                        inference_segmentor_large_scene,
                        inference_segmentor_scene)
from s5mm_tiny_configs import save_random_checkpoint, tiny_config

SEG_CFG = 'sdf_vit-b_upernet_8xb12-100e_loveda-512x512.py'
DET_CFG = ('moe-mdf-p256_vit-b_oriented-rcnn-le90_8xb2-12e_dior-r-dota2-'
           '1024x1024.py')
UTM = 'EPSG:32650'
GEO = from_origin(500000.0, 4000000.0, 0.3, 0.3)
SEG_ARGS = ['--patch-size', '512', '--patch-overlap', '64', '--batch-size',
            '2']


@pytest.fixture(scope='module')
def tool(repo_root):
    spec = importlib.util.spec_from_file_location(
        'infer_scene', osp.join(repo_root, 'tools', 'infer_scene.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_tif(path, bands_first, crs=UTM, transform=GEO, nodata=None,
              **extra):
    count, h, w = bands_first.shape
    with rasterio.open(path, 'w', driver='GTiff', height=h, width=w,
                       count=count, dtype=bands_first.dtype, crs=crs,
                       transform=transform, nodata=nodata, tiled=True,
                       compress='deflate', **extra) as ds:
        ds.write(bands_first)
    return str(path)


def rgb_first(bgr):
    """HxWx3 BGR -> 3xHxW RGB (file band order)."""
    return np.ascontiguousarray(bgr[..., ::-1].transpose(2, 0, 1))


def loveda_scene(h, w):
    tiles = [mmcv.imread(f'tests/data/loveda/img_dir/{i}.png')
             for i in range(3)]
    rows = [np.concatenate([tiles[0], tiles[1]], 1),
            np.concatenate([tiles[2], tiles[0][::-1]], 1)]
    return np.ascontiguousarray(np.concatenate(rows, 0)[:h, :w])


@pytest.fixture(scope='module')
def seg(tmp_path_factory):
    """Tiny LoveDA segmentor, its pipeline, metainfo and a 1536 x 2048
    GeoTIFF scene, with the tool's output of that scene."""
    root = tmp_path_factory.mktemp('seg')
    cfg = tiny_config(SEG_CFG)
    cfg_file, ckpt, model = save_random_checkpoint(cfg, str(root))
    dataset_cfg = find_dataset(cfg)
    scene = loveda_scene(1536, 2048)
    tif = write_tif(root / 'scene.tif', rgb_first(scene))
    return dict(root=root, cfg_file=cfg_file, ckpt=ckpt, model=model,
                pipeline=build_inference_pipeline(dataset_cfg),
                meta=dataset_metainfo(dataset_cfg), scene=scene, tif=tif)


@pytest.fixture(scope='module')
def seg_output(seg, tool):
    out = tool.main([seg['tif'], seg['cfg_file'], seg['ckpt'], '--out',
                     str(seg['root'] / 'full'), '--save-confidence'] +
                    SEG_ARGS)
    return out['output']


def test_label_map_equals_in_memory(seg, seg_output):
    """The GeoTIFF label map is the in-memory large-scene result pixel for
    pixel, with the input's CRS and transform, nodata 255, the palette as
    colour table; band 2 is the window's softmax maximum in percent."""
    ref = inference_segmentor_large_scene(
        seg['model'], seg['scene'], seg['pipeline'], 512, 64,
        batch_size=2).pred_sem_seg.data[0].numpy()
    with rasterio.open(seg_output) as ds:
        labels, conf = ds.read(1), ds.read(2)
        assert ds.crs == rasterio.crs.CRS.from_string(UTM)
        assert ds.transform == GEO
        assert ds.nodata == 255 and ds.dtypes == ('uint8', 'uint8')
        assert ds.profile['tiled'] and ds.compression.value == 'DEFLATE'
        colours = ds.colormap(1)
    np.testing.assert_array_equal(labels, ref)
    for i, rgb in enumerate(seg['meta']['palette']):
        assert colours[i] == tuple(rgb) + (255, )
    # confidence of the top-left window's own part, computed here from the
    # window's logits (same batch of two as the tool's first batch)
    first = inference_images(seg['model'], seg['pipeline'], [
        seg['scene'][:512, :512], seg['scene'][:512, 448:960]])[0]
    prob = first.seg_logits.data.softmax(0).max(0).values.numpy()
    own = (448 + 512) // 2
    np.testing.assert_array_equal(conf[:own, :own],
                                  np.rint(prob[:own, :own] * 100))
    assert not osp.exists(seg_output + '.parts')


def test_nodata(seg, tool, tmp_path, monkeypatch):
    """Nodata in (value 0 in every band) is nodata (255) out; windows that
    are all nodata never reach the model."""
    scene = seg['scene'].copy()
    scene[:, :560] = 0
    scene[900:1200, 1100:1500] = 0
    tif = write_tif(tmp_path / 'nd.tif', rgb_first(scene), nodata=0)
    calls = []
    real = large_scene.inference_images

    def counting(model, pipeline, images):
        calls.append(len(images))
        return real(model, pipeline, images)

    monkeypatch.setattr(large_scene, 'inference_images', counting)
    out = tool.main([tif, seg['cfg_file'], seg['ckpt'], '--out',
                     str(tmp_path / 'nd')] + SEG_ARGS)['output']
    monkeypatch.undo()
    with rasterio.open(out) as ds:
        labels = ds.read(1)
    invalid = (scene == 0).all(-1)
    assert ((labels == 255) == invalid).all()
    # 4 rows x 5 windows; the first column (x 0-511) is all nodata
    assert sum(calls) == 16
    ref, _ = inference_segmentor_scene(
        seg['model'], seg['pipeline'], ArraySource(scene, ~invalid),
        ArrayLabelSink(*invalid.shape), 512, 64, 2)
    np.testing.assert_array_equal(labels, ref)


def _log_lines(fn, word):
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        result = fn()
    finally:
        logger.removeHandler(handler)
    return result, [r.getMessage() for r in records if word in
                    r.getMessage()]


def test_uint16_four_bands(seg, tool, tmp_path):
    """A 4-band uint16 scene (blue, green, red, NIR) with --bands 3 2 1:
    --scale maps it back to the 8-bit scene (same labels); the default
    percentile stretch says its values in one line, and --scale with them
    gives the same bytes."""
    scene = seg['scene'][:1024, :1024]
    b, g, r = (scene[..., c].astype(np.uint16) * 40 + 500 for c in range(3))
    nir = np.full_like(b, 9000)
    tif = write_tif(tmp_path / 'u16.tif', np.stack([b, g, r, nir]))
    ref = inference_segmentor_large_scene(
        seg['model'], scene, seg['pipeline'], 512, 64,
        batch_size=2).pred_sem_seg.data[0].numpy()
    base = [tif, seg['cfg_file'], seg['ckpt'], '--bands', '3', '2', '1'] + \
        SEG_ARGS
    out = tool.main(base + ['--out', str(tmp_path / 'a'), '--scale', '500',
                            '10700'])['output']
    with rasterio.open(out) as ds:
        np.testing.assert_array_equal(ds.read(1), ref)
    with pytest.raises(ValueError, match='u16.tif.*4 band'):
        tool.main([tif, seg['cfg_file'], seg['ckpt'], '--out',
                   str(tmp_path / 'x')])
    out, lines = _log_lines(lambda: tool.main(
        base + ['--out', str(tmp_path / 'p')])['output'], 'percentile')
    assert len(lines) == 1
    values = [float(v) for v in lines[0].split('--scale ')[1].split()[:6]]
    # from 64 sampled windows of 256 px: near the whole band's percentiles
    for (lo, hi), band in zip(np.reshape(values, (3, 2)), (r, g, b)):
        want = np.percentile(band, (2, 98))
        assert abs(lo - want[0]) < 0.1 * (want[1] - want[0])
        assert abs(hi - want[1]) < 0.1 * (want[1] - want[0])
    again = tool.main(base + ['--out', str(tmp_path / 'q'), '--scale'] +
                      lines[0].split('--scale ')[1].split()[:6])['output']
    with open(out, 'rb') as f1, open(again, 'rb') as f2:
        assert f1.read() == f2.read()


def test_killed_run_resumes_to_same_bytes(seg, seg_output, tool, tmp_path,
                                          repo_root, monkeypatch):
    """SIGKILL after the first window row is written; the same command
    again skips the written rows and gives the uninterrupted run's bytes."""
    out = str(tmp_path / 'killed')
    cmd = [sys.executable, 'tools/infer_scene.py', seg['tif'],
           seg['cfg_file'], seg['ckpt'], '--out', out, '--save-confidence'
           ] + SEG_ARGS
    env = dict(os.environ, PYTHONPATH=repo_root)
    proc = subprocess.Popen(cmd, cwd=repo_root, env=env,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    parts = out + '.tif.parts'
    try:
        deadline = time.time() + 300
        while not glob.glob(osp.join(parts, 'row000000_*.tif')):
            assert proc.poll() is None and time.time() < deadline
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not osp.exists(out + '.tif')
    done = len(glob.glob(osp.join(parts, 'row*_*.tif')))
    assert 1 <= done < 4
    calls = []
    real = large_scene.inference_images

    def counting(model, pipeline, images):
        calls.append(len(images))
        return real(model, pipeline, images)

    monkeypatch.setattr(large_scene, 'inference_images', counting)
    result = tool.main(cmd[2:])['output']
    assert sum(calls) == 5 * (4 - done)  # 5 windows a row
    with open(result, 'rb') as f1, open(seg_output, 'rb') as f2:
        assert f1.read() == f2.read()
    assert not osp.exists(parts)


def test_no_crs_and_png_scene(seg, tool, tmp_path):
    """A GeoTIFF without CRS: pixel coordinates, said in one log line. A
    PNG scene: the label map and the picture, as the demo draws it."""
    scene = seg['scene'][:1024, :1024]
    tif = write_tif(tmp_path / 'plain.tif', rgb_first(scene), crs=None,
                    transform=Affine.identity())
    out, lines = _log_lines(lambda: tool.main(
        [tif, seg['cfg_file'], seg['ckpt'], '--out', str(tmp_path / 'n')] +
        SEG_ARGS)['output'], 'no CRS')
    assert len(lines) == 1 and 'pixel coordinates' in lines[0]
    with rasterio.open(out) as ds:
        assert ds.crs is None and ds.transform == Affine.identity()
        labels = ds.read(1)
    png = str(tmp_path / 'scene.png')
    mmcv.imwrite(scene, png)
    res = tool.main([png, seg['cfg_file'], seg['ckpt'], '--out',
                     str(tmp_path / 'pic')] + SEG_ARGS)
    with rasterio.open(res['output']) as ds:
        np.testing.assert_array_equal(ds.read(1), labels)
    from s5_mm.apis import blend_segmentation
    np.testing.assert_array_equal(
        mmcv.imread(res['picture']),
        blend_segmentation(scene.copy(), labels, seg['meta']['palette']))


def test_unreadable_raster(seg, tool, tmp_path):
    """Not a raster, or a truncated GeoTIFF: an error naming the file."""
    text = tmp_path / 'notes.tif'
    text.write_text('not a raster')
    with pytest.raises(OSError, match='notes.tif'):
        tool.main([str(text), seg['cfg_file'], seg['ckpt'], '--out',
                   str(tmp_path / 'x')])
    tif = write_tif(tmp_path / 'cut.tif', rgb_first(seg['scene']))
    size = os.path.getsize(tif)
    with open(tif, 'r+b') as f:
        f.truncate(size // 2)
    with pytest.raises(OSError, match='cut.tif.*truncated'):
        tool.main([tif, seg['cfg_file'], seg['ckpt'], '--out',
                   str(tmp_path / 'y')] + SEG_ARGS)


def rotated_corners(boxes):
    """Corners of (cx, cy, w, h, angle) boxes, written out here."""
    cx, cy, w, h, a = (boxes[:, i, None] for i in range(5))
    cos, sin = np.cos(a), np.sin(a)
    dx = np.array([1, 1, -1, -1]) * w / 2
    dy = np.array([1, -1, -1, 1]) * h / 2
    return np.stack([cx + dx * cos - dy * sin, cy + dx * sin + dy * cos], -1)


def test_geopackage_polygons(tool, tmp_path):
    """Detections as GeoPackage polygons in the scene's CRS: mapped back to
    pixels, they are the boxes of inference_detector_large_scene."""
    files = sorted(glob.glob('tests/data/dota_split/images/*.png'))
    tiles = [mmcv.imread(f) for f in files]
    scene = np.ascontiguousarray(np.concatenate(
        [np.concatenate(tiles[:3], 1), np.concatenate(tiles[1:], 1)], 0))
    geo = from_origin(300000.0, 5000000.0, 0.5, 0.5)
    tif = write_tif(tmp_path / 'dota.tif', rgb_first(scene), transform=geo)
    cfg = tiny_config(DET_CFG, **{
        'model.test_cfg.rcnn.score_thr': 0.0,
        'model.test_cfg.rpn.nms_pre': 200,
        'model.test_cfg.rpn.max_per_img': 40,
        'model.test_cfg.rcnn.max_per_img': 20})
    cfg_file, ckpt, model = save_random_checkpoint(cfg, str(tmp_path))
    out = tool.main([tif, cfg_file, ckpt, '--out', str(tmp_path / 'det'),
                     '--dataset', 'dota', '--patch-size', '512',
                     '--patch-overlap', '128', '--batch-size', '2',
                     '--score-thr', '0'])['output']
    assert out.endswith('det.gpkg')
    pipeline = build_inference_pipeline(find_dataset(cfg, 'dota'),
                                        'mmrotate', 'dota')
    ref = inference_detector_large_scene(model, scene, pipeline, 512, 128,
                                         batch_size=2).pred_instances
    boxes = ref.bboxes.double().numpy()
    meta, _, geometry, fields = read_vector(out)
    assert meta['crs'] == UTM and len(geometry) == len(boxes) > 20
    field = dict(zip(meta['fields'], fields))
    px = np.stack([field[f'px_{k}'] for k in ('cx', 'cy', 'w', 'h',
                                              'angle')], 1)
    np.testing.assert_array_equal(px, boxes)
    classes = dataset_metainfo(find_dataset(cfg, 'dota'),
                               'mmrotate')['classes']
    assert list(field['class']) == [classes[i] for i in ref.labels.tolist()]
    assert set(field['dataset']) == {'dota'}
    import shapely
    a, b, c, d, e, f = tuple(~geo)[:6]
    for poly, corners in zip(shapely.from_wkb(geometry),
                             rotated_corners(boxes)):
        xy = np.asarray(poly.exterior.coords)[:4]
        back = np.stack([a * xy[:, 0] + b * xy[:, 1] + c,
                         d * xy[:, 0] + e * xy[:, 1] + f], -1)
        np.testing.assert_allclose(back, corners, atol=1e-6)
