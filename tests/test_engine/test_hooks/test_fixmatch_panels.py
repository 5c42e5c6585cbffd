"""FixMatchVisualizationHook: readable panels (one titled row per sample,
upscaled tiles, palette colours, confidence heat-map, legend), read back
from the PNG a training run writes."""
import copy
from glob import glob

import mmcv
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

import s5_mm  # noqa: F401
from s5_mm.engine.hooks.fixmatch_visualization_hook import (
    TITLE_H, FixMatchVisualizationHook)

DEMO_CFG = ('configs/demo/s4p-fixmatch_vit-tiny_1xb2+2-60iter_'
            'loveda-sample-unlabeled-64x64.py')
TILE = 256
LEGEND_H = 2 * 24 + 8  # 7 LoveDA classes fit one row, + the heat-map scale


def _tiles(panel, rows):
    h = TILE + TITLE_H
    return [[panel[r * h + TITLE_H:(r + 1) * h, c * TILE:(c + 1) * TILE]
             for c in range(5)] for r in range(rows)]


def test_training_run_writes_readable_panels(tmp_path):
    init_default_scope('mmseg')
    cfg = Config.fromfile(DEMO_CFG)
    cfg.work_dir = str(tmp_path)
    cfg.train_cfg.update(max_iters=2, val_interval=100)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.default_hooks.checkpoint.interval = 100
    cfg.custom_hooks = [dict(type='FixMatchVisualizationHook', interval=2,
                             num_samples=2, tile_size=TILE)]
    cfg.visualizer.name = 'h14_panels_visualizer'
    runner = Runner.from_cfg(cfg)
    runner.train()
    (path, ) = glob(str(tmp_path / '*' / 'vis_data' / 'vis_image' /
                        'fixmatch_2.png'))
    panel = mmcv.imread(path, channel_order='rgb')
    assert panel.shape == (2 * (TILE + TITLE_H) + LEGEND_H, 5 * TILE, 3)
    palette = np.asarray(runner.visualizer.dataset_meta['palette'])
    for r, row in enumerate(_tiles(panel, 2)):
        for c, tile in enumerate(row):
            assert len(np.unique(tile.reshape(-1, 3), axis=0)) > 1, (r, c)
        # prediction tile: palette colours (and grey padding) only
        colours = np.unique(row[4].reshape(-1, 3), axis=0)
        allowed = {tuple(p) for p in palette} | {(128, 128, 128)}
        assert {tuple(x) for x in colours} <= allowed
        # upscaled x4 with nearest neighbour: blocks of 4 x 4 equal pixels
        assert (row[4][::4, ::4].repeat(4, 0).repeat(4, 1) == row[4]).all()
    strips = [panel[r * (TILE + TITLE_H):r * (TILE + TITLE_H) + TITLE_H]
              for r in range(2)]
    assert all(len(np.unique(s)) > 2 for s in strips)  # titles are written
    legend = panel[-LEGEND_H:]
    for colour in palette:  # every class has its swatch
        assert (legend.reshape(-1, 3) == colour).all(1).sum() >= 16 * 16


def test_make_panel_tiles_by_hand():
    init_default_scope('mmseg')
    cfg = Config.fromfile(DEMO_CFG)
    from mmseg.registry import MODELS
    model = MODELS.build(copy.deepcopy(cfg.model))
    pre = model.data_preprocessor.data_preprocessor
    raw = torch.arange(3 * 8 * 8, dtype=torch.float32).view(3, 8, 8)
    img = (raw - pre.mean) / pre.std  # normalised RGB, as the model sees it
    label = torch.tensor([[0, 1, 2, 3, 4, 5, 6, 0]] * 8)
    conf = torch.linspace(0, 1, 64).view(8, 8)
    ignore = torch.zeros(8, 8, dtype=torch.bool)
    ignore[7] = True
    palette = [[10 * k, 200, 255 - 10 * k] for k in range(7)]
    views = dict(weak=img[None], strong=img[None], pseudo_label=label[None],
                 conf=conf[None], ignore=ignore[None],
                 conf_thr=torch.full((1, 8, 8), 0.5), pred=label.flip(1)[None])
    panel = FixMatchVisualizationHook.make_panel(
        views, model.data_preprocessor,
        dict(classes=[f'c{k}' for k in range(7)], palette=palette), TILE)
    assert panel.dtype == np.uint8
    assert panel.shape == (TILE + TITLE_H + LEGEND_H, 5 * TILE, 3)
    weak, strong, pl, heat, pred = _tiles(panel, 1)[0]
    up = raw.permute(1, 2, 0).numpy().repeat(32, 0).repeat(32, 1)
    assert (weak == up).all() and (strong == up).all()
    colours = np.asarray(palette, dtype=np.uint8)[label.numpy()]
    low = (conf < 0.5).numpy()
    expected = np.where(low[..., None], colours // 3, colours)
    expected[7] = 128  # padding
    assert (pl[::32, ::32] == expected).all()
    expected_pred = np.asarray(palette, dtype=np.uint8)[label.flip(1).numpy()]
    expected_pred[7] = 128
    assert (pred[::32, ::32] == expected_pred).all()
    # heat-map: brighter where more confident, a white contour at 0.5
    centre = heat[16::32, 16::32].astype(int).sum(-1)
    assert centre[6, 7] > centre[4, 0] > centre[0, 0]
    assert ((heat == 255).all(-1)).sum() > TILE  # the threshold contour
    assert not ((heat[:3 * 32] == 255).all(-1)).any()  # none in the low part


def test_bad_hook_arguments():
    with pytest.raises(ValueError, match='tile_size'):
        FixMatchVisualizationHook(tile_size=32)
    with pytest.raises(ValueError, match='num_samples'):
        FixMatchVisualizationHook(num_samples=0)
