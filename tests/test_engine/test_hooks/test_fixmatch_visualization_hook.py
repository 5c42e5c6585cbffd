"""FixMatchVisualizationHook: readable panels (one titled row per sample,
upscaled tiles, palette colours, confidence heat-map, legend), read back
from the PNG a training run writes; the views it re-runs change nothing."""
import copy
from glob import glob

import mmcv
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

import s5_mm  # noqa: F401
from s5_mm.engine.hooks.fixmatch_visualization_hook import (
    TITLE_H, FixMatchVisualizationHook, fixmatch_views)
from s5_mm.models.utils.perturbations import cutmix_boxes, seeded_generator

from s4p_utils import (DEMO_CFG, build_model, demo_config, real_batches,
                       reference_logits)
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


def test_fixmatch_views_change_nothing():
    cfg = demo_config()
    model = build_model(cfg, conf_thr=0.2, cutmix_prob=1.0,
                        class_weight_power=0.5)
    batch = real_batches(cfg)[0]
    model.train()
    # the training step of iteration 5, as the runner's message hub says
    MessageHub.get_instance('h21_views').update_info('iter', 5)
    model.train_step(copy.deepcopy(batch),
                     OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1)))
    state = copy.deepcopy(model.state_dict())
    calls = model.loss_calls
    rng = torch.get_rng_state()
    views = fixmatch_views(model, copy.deepcopy(batch), 2, 5)
    assert model.training and model.loss_calls == calls
    assert torch.equal(torch.get_rng_state(), rng)
    for k, v in model.state_dict().items():  # BN and class statistics kept
        assert torch.equal(v, state[k]), k
    assert views['weak'].shape == (2, 3, 64, 64)
    assert {k: tuple(v.shape) for k, v in views.items() if v.dim() == 3} == {
        k: (2, 64, 64)
        for k in ('pseudo_label', 'conf', 'ignore', 'conf_thr', 'pred')}
    # the strong view is CutMix-ed with this iteration's boxes (prob 1)
    data = model.data_preprocessor(copy.deepcopy(batch), True)
    strong = data['inputs']['unsup_student']
    box = cutmix_boxes(4 // 2, 64, 64, 1.0, (0.02, 0.4), (0.3, 1 / 0.3),
                       seeded_generator(5))
    expected = torch.where(box[:, None], strong.flip(0), strong)[:2]
    assert torch.equal(views['strong'], expected)
    model.student.eval()
    with torch.no_grad():
        pred = reference_logits(model.student, expected).argmax(1)
    assert torch.equal(views['pred'], pred)
    # the per-pixel threshold is tau everywhere (class weights change the
    # loss, not the threshold)
    assert torch.equal(views['conf_thr'], torch.full((2, 64, 64), 0.2))


def test_needs_a_fixmatch_segmentor(demo_cfg):
    from types import SimpleNamespace
    init_default_scope('mmseg')
    from mmseg.registry import MODELS
    plain = MODELS.build(copy.deepcopy(demo_cfg.model.segmentor))
    runner = SimpleNamespace(model=plain, iter=0)
    with pytest.raises(TypeError, match='needs a FixMatchSegmentor, got '
                       'EncoderDecoder'):
        FixMatchVisualizationHook(interval=1).after_train_iter(runner, 0, {})
