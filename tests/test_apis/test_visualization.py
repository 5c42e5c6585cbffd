"""s5_mm.apis.visualization: boxes drawn in place (pixels away from them
unchanged), masks blended by the formula, large scenes shrunk."""
import numpy as np
import torch
from mmengine.structures import InstanceData
from mmdet.structures import DetDataSample

from s5_mm.apis.visualization import (blend_segmentation,
                                      downscale_for_drawing,
                                      draw_rotated_boxes)


def test_blend_is_the_floored_mix_and_ignore_is_kept():
    image = np.array([[[10, 20, 30], [200, 100, 0]],
                      [[0, 0, 0], [255, 255, 255]]], np.uint8)
    labels = np.array([[0, 1], [255, 1]])
    palette = [(255, 0, 0), (0, 128, 64)]  # RGB
    out = blend_segmentation(image.copy(), labels, palette, opacity=0.3)
    bgr = np.array(palette, float)[:, ::-1]
    for y, x in ((0, 0), (0, 1), (1, 1)):
        expected = np.floor(0.7 * image[y, x] + 0.3 * bgr[labels[y, x]])
        np.testing.assert_array_equal(out[y, x], expected)
    np.testing.assert_array_equal(out[1, 0], image[1, 0])


def test_downscale_only_when_too_large():
    image = np.zeros((300, 120, 3), np.uint8)
    same, scale = downscale_for_drawing(image, 300)
    assert same is image and scale == 1.0
    assert downscale_for_drawing(image, None)[0] is image
    small, scale = downscale_for_drawing(image, 100)
    assert small.shape == (100, 40, 3) and scale == 100 / 300


def test_boxes_drawn_only_where_they_are():
    image = np.full((60, 80, 3), 7, np.uint8)
    sample = DetDataSample()
    sample.pred_instances = InstanceData(
        bboxes=torch.tensor([[40., 30., 20., 10., 0.],
                             [10., 10., 6., 6., 0.]]),
        scores=torch.tensor([0.9, 0.1]), labels=torch.tensor([1, 0]))
    meta = dict(classes=('a', 'b'), palette=[(0, 0, 255), (255, 0, 0)])
    out = draw_rotated_boxes(image, sample, meta, score_thr=0.3,
                             line_width=1)
    assert out is image
    changed = (image != 7).any(-1)
    # the box spans x 30..50, y 25..35; its label is written above it, at
    # its left edge (text baseline y = 25, anti-aliased 2 px below)
    ys, xs = np.nonzero(changed[28:])
    assert xs.min() >= 29 and xs.max() <= 51 and ys.max() + 28 <= 36
    assert changed[28:36, 29:52].any() and not changed[37:].any()
    assert np.nonzero(changed)[1].min() >= 29
    assert not changed[:, :20].any()  # the low-score box is not drawn
    # class b's colour (RGB red = BGR (0, 0, 255)), anti-aliased over the
    # background: every drawn pixel a mix of the two, the edge x = 30 red
    assert (image[changed][:, :2] <= 7).all()
    assert (image[changed][:, 2] > 7).all()
    assert (image[28:33, 29:32, 2] > 150).any()
    blank = np.full((8, 8, 3), 7, np.uint8)
    draw_rotated_boxes(blank, sample, meta, score_thr=0.95)
    assert (blank == 7).all()
