"""Large scenes: patch-wise detection and segmentation through the demo and
s5_mm.apis on mosaics built from the bundled patches."""
import logging

import mmcv
import numpy as np
import pytest
import torch
from mmengine.logging import MMLogger

import s5_mm  # noqa: F401
from s5_mm.apis import (blend_segmentation, build_inference_pipeline,
                        dataset_metainfo, draw_rotated_boxes, find_dataset,
                        inference_images, inference_segmentor_large_scene,
                        patch_offsets)
from s5mm_tiny_configs import save_random_checkpoint, tiny_config

DOTA = ['tests/data/dota_split/images/P0706__1__0___0.png',
        'tests/data/dota_split/images/P0706__1__0___256.png',
        'tests/data/dota_split/images/P0706__1__0___512.png',
        'tests/data/dota_split/images/P1088__1__1024___768.png']
DET_CFG = ('moe-mdf-p256_vit-b_oriented-rcnn-le90_8xb2-12e_dior-r-dota2-'
           '1024x1024.py')
SEG_CFG = 'sdf_vit-b_upernet_8xb12-100e_loveda-512x512.py'


def mosaic(files, tiles_y, tiles_x):
    """A scene tiled from the patches, each tile flipped differently."""
    patches = [mmcv.imread(f) for f in files]
    rows = []
    for ty in range(tiles_y):
        row = []
        for tx in range(tiles_x):
            tile = patches[(ty * tiles_x + tx) % len(patches)]
            row.append(tile[::(-1) ** ty, ::(-1) ** tx])
        rows.append(np.concatenate(row, axis=1))
    return np.ascontiguousarray(np.concatenate(rows, axis=0))


def test_detection_scene_picture(tmp_path, image_demo):
    """A 4096 x 4608 DOTA mosaic: the picture is the scene itself (equal
    to the input where nothing is above the threshold), boxes are merged
    over the scene and lie in it."""
    scene = mosaic(DOTA, 8, 9)
    assert scene.shape == (4096, 4608, 3)
    scene_file = str(tmp_path / 'scene.png')
    mmcv.imwrite(scene, scene_file)
    # few proposals and boxes: the random detector's scores are all close,
    # and rotated NMS over thousands of them per window is slow on a CPU
    cfg = tiny_config(DET_CFG, **{
        'model.test_cfg.rcnn.score_thr': 0.0,
        'model.test_cfg.rpn.nms_pre': 200,
        'model.test_cfg.rpn.max_per_img': 40,
        'model.test_cfg.rcnn.max_per_img': 20})
    cfg_file, ckpt, _ = save_random_checkpoint(cfg, str(tmp_path))
    out = str(tmp_path / 'out.png')
    result = image_demo.main([
        scene_file, cfg_file, ckpt, '--dataset', 'dota', '--patch-size',
        '1024', '--patch-overlap', '200', '--batch-size', '4',
        '--score-thr', '0.99', '--out-file', out])
    pred = result.pred_instances
    assert len(pred) > 0 and float(pred.scores.max()) < 0.99
    # nothing above the threshold: the picture is exactly the input scene
    assert np.array_equal(mmcv.imread(out), scene)
    # boxes in scene pixels, centres inside the scene, from every region
    cx, cy = pred.bboxes[:, 0], pred.bboxes[:, 1]
    assert (cx >= 0).all() and (cx < 4608).all()
    assert (cy >= 0).all() and (cy < 4096).all()
    assert cx.max() > 3600 and cy.max() > 3100
    # the 10 best boxes drawn: lines and labels on the scene at full size,
    # the rest of it untouched (nothing shrunk, no white margins)
    meta = dataset_metainfo(find_dataset(cfg, 'dota'), 'mmrotate')
    tenth = float(pred.scores.sort(descending=True).values[9])
    drawn = draw_rotated_boxes(scene.copy(), result, meta, score_thr=tenth)
    changed = (drawn != scene).any(-1)
    assert drawn.shape == scene.shape
    assert 0 < changed.mean() < 0.05


def test_segmentation_scene(tmp_path, image_demo):
    """Patch-wise segmentation of a 3 x 3 mosaic: each window owns the
    pixels nearest its centre; the picture is the scene blended with the
    stitched labels; a longer side above --max-draw-size is drawn
    downscaled, said in one log line."""
    loveda = ['tests/data/loveda/img_dir/0.png',
              'tests/data/loveda/img_dir/1.png',
              'tests/data/loveda/img_dir/2.png']
    scene = mosaic(loveda, 3, 3)
    h, w = scene.shape[:2]
    cfg = tiny_config(SEG_CFG)
    cfg_file, ckpt, model = save_random_checkpoint(cfg, str(tmp_path))
    dataset_cfg = find_dataset(cfg)
    pipeline = build_inference_pipeline(dataset_cfg)
    patch, overlap = h // 2, h // 8
    labels = inference_segmentor_large_scene(
        model, scene, pipeline, patch, overlap,
        batch_size=2).pred_sem_seg.data[0].numpy()
    assert labels.shape == (h, w) and labels.dtype == np.uint8
    # the top-left window owns up to half-way to the next window's centre
    offsets = patch_offsets(h, w, patch, overlap)
    (x0, y0), (x1, _) = offsets[0], offsets[1]
    own = (x0 + x1 + patch) // 2
    # (in the same batch of two windows as above: same numerics)
    first = inference_images(model, pipeline, [
        scene[y0:y0 + patch, x0:x0 + patch],
        scene[:patch, x1:x1 + patch]])[0].pred_sem_seg.data[0]
    np.testing.assert_array_equal(labels[:own, :own],
                                  first.numpy()[:own, :own])

    scene_file, out = str(tmp_path / 'scene.png'), str(tmp_path / 'o.png')
    mmcv.imwrite(scene, scene_file)
    meta = dataset_metainfo(dataset_cfg)
    image_demo.main([scene_file, cfg_file, ckpt, '--patch-size', str(patch),
                     '--patch-overlap', str(overlap), '--batch-size', '2',
                     '--out-file', out])
    expected = blend_segmentation(scene.copy(), labels, meta['palette'])
    assert np.array_equal(mmcv.imread(out), expected)
    palette = np.asarray(meta['palette'], float)[:, ::-1]
    np.testing.assert_allclose(
        expected.astype(float),
        np.floor(0.5 * scene + 0.5 * palette[labels]), atol=1)

    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        image_demo.main([scene_file, cfg_file, ckpt, '--patch-size',
                         str(patch), '--patch-overlap', str(overlap),
                         '--max-draw-size', str(w // 2), '--out-file', out])
    finally:
        logger.removeHandler(handler)
    small = mmcv.imread(out)
    assert max(small.shape[:2]) == w // 2
    lines = [r.getMessage() for r in records if 'downscaled' in
             r.getMessage()]
    assert len(lines) == 1 and f'{w}x{h}' in lines[0]


