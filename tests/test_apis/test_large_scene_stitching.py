"""Stitching of patch-wise segmentation over the whole scene: every pixel
has the label that the window whose centre is nearest predicts for it when
that window is inferred alone (mmseg's ``inference_model``, no s5_mm
inference code), for every window of a scene whose windows are unevenly
spaced along both axes."""
import copy

import mmcv
import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.apis import inference_model
from mmseg.registry import MODELS

import s5_mm  # noqa: F401
from independent_prediction import config_test_pipeline, file_pipeline
from s5_mm.apis import (build_inference_pipeline, find_dataset,
                        inference_segmentor_large_scene)
from s5mm_tiny_configs import tiny_config

SEG_CFG = 'sdf_vit-b_upernet_8xb12-100e_loveda-512x512.py'
LOVEDA = ['tests/data/loveda/img_dir/0.png',
          'tests/data/loveda/img_dir/1.png',
          'tests/data/loveda/img_dir/2.png']
PATCH, OVERLAP = 256, 64
# windows every 256 - 64 = 192 px, the last one ending at the border:
# rows 0, 192, 256 (last gap 64), columns 0, 192, 384, 512 (last gap 128)
YS, XS = [0, 192, 256], [0, 192, 384, 512]


def scene() -> np.ndarray:
    """512 x 768 BGR: the three LoveDA crops (1024 px) tiled 2 x 3, each
    tile flipped differently, downscaled 4 times."""
    tiles = [mmcv.imread(f) for f in LOVEDA]
    rows = [np.concatenate([tiles[(r * 3 + c) % 3][::(-1) ** r, ::(-1) ** c]
                            for c in range(3)], axis=1) for r in range(2)]
    image = np.concatenate(rows, axis=0)
    return np.ascontiguousarray(mmcv.imrescale(image, 0.25))


def nearest(size: int, starts: list) -> np.ndarray:
    """For every pixel along an axis, the index of the window whose centre
    (start + (PATCH - 1) / 2) is nearest; no pixel is half-way."""
    centres = np.asarray(starts) + (PATCH - 1) / 2
    dist = np.abs(np.arange(size)[:, None] - centres[None])
    best = dist.argmin(1)
    second = np.sort(dist, 1)[:, 1]
    assert (second > dist.min(1)).all(), 'a pixel is half-way: ambiguous'
    return best


def test_every_window_owns_the_pixels_nearest_its_centre():
    image = scene()
    h, w = image.shape[:2]
    assert (h, w) == (512, 768)
    cfg = tiny_config(SEG_CFG)
    init_default_scope('mmseg')
    torch.manual_seed(0)
    model = MODELS.build(copy.deepcopy(cfg.model)).eval()
    dataset_cfg = find_dataset(cfg)
    labels = inference_segmentor_large_scene(
        model, image, build_inference_pipeline(dataset_cfg), PATCH, OVERLAP,
        batch_size=1).pred_sem_seg.data[0].numpy()
    assert labels.shape == (h, w)

    # each window alone, through mmseg's inference_model
    model.cfg = Config(dict(test_pipeline=file_pipeline(
        config_test_pipeline(cfg), 'mmseg')))
    alone = {(y, x): inference_model(
        model, image[y:y + PATCH, x:x + PATCH]).pred_sem_seg.data[0].numpy()
        for y in YS for x in XS}
    assert all(a.shape == (PATCH, PATCH) for a in alone.values())
    row, col = nearest(h, YS), nearest(w, XS)
    expected = np.full((h, w), -1)
    for i, y in enumerate(YS):
        for j, x in enumerate(XS):
            own = (row == i)[:, None] & (col == j)[None]
            assert own.any()
            window = np.zeros((h, w), np.int64)
            window[y:y + PATCH, x:x + PATCH] = alone[(y, x)]
            expected[own] = window[own]
    assert (expected >= 0).all()  # the owned parts tile the scene
    for i, y in enumerate(YS):
        for j, x in enumerate(XS):
            own = (row == i)[:, None] & (col == j)[None]
            np.testing.assert_array_equal(
                labels[own], expected[own],
                err_msg=f'the window at x={x}, y={y} (its owned part)')

    # the windows disagree where they overlap, so a wrong owner shows:
    # the map where every window overwrites the earlier ones differs
    last_wins = np.zeros((h, w), np.int64)
    for (y, x), pred in alone.items():
        last_wins[y:y + PATCH, x:x + PATCH] = pred
    assert (last_wins != expected).any()
