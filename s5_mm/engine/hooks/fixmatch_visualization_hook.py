"""Panels of FixMatch's views and pseudo-labels during training."""
from typing import Dict, List, Optional, Sequence

import cv2
import mmcv
import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner
from mmseg.registry import HOOKS

from s5_mm.models.segmentors.fixmatch_segmentor import FixMatchSegmentor
from s5_mm.models.utils.perturbations import seeded_generator

TITLE_H = 28  # pixels of the title strip above each tile
GREY = (128, 128, 128)  # padding (no loss) in the label and heat-map tiles


@HOOKS.register_module()
class FixMatchVisualizationHook(Hook):
    """Every ``interval`` iterations, write a panel through the visualizer.

    One row per unlabeled sample (the first ``num_samples`` of the batch),
    five titled tiles, each upscaled to ``tile_size`` pixels:

    1. the weak view (what the teacher sees);
    2. the strong view after CutMix (what the student learns from);
    3. the pseudo-label in the dataset's palette, dimmed where the
       confidence is below the threshold (no loss there);
    4. the teacher's confidence as a heat-map (0 = dark blue, 1 = yellow),
       with the threshold drawn as a white contour and the pixels below it
       dimmed;
    5. the student's prediction on the strong view, in the palette.

    Padding is grey. A legend below the rows names the classes with their
    colours and shows the heat-map's scale. :func:`fixmatch_views`
    re-runs the pseudo-labelling of the iteration's batch after the update
    (see there). The panel goes to every backend of the runner's visualizer
    (``LocalVisBackend`` writes ``vis_data/vis_image/fixmatch_<iter>.png``;
    add ``dict(type='TensorboardVisBackend')`` to ``vis_backends`` for
    TensorBoard). Classes and palette come from the visualizer's
    ``dataset_meta`` (the labeled dataset's metainfo); without a palette,
    fixed random colours are used.

    Args:
        interval (int): Iterations between panels. Defaults to 500.
        num_samples (int): Rows (samples) per panel, at most the unlabeled
            batch size. Defaults to 2.
        tile_size (int): Side of each tile in pixels, >= 128. Defaults to 256.
        name (str): Image name in the backends. Defaults to 'fixmatch'.
    """

    priority = 'LOW'

    def __init__(self,
                 interval: int = 500,
                 num_samples: int = 2,
                 tile_size: int = 256,
                 name: str = 'fixmatch') -> None:
        for key, value, low in (('interval', interval, 1),
                                ('num_samples', num_samples, 1),
                                ('tile_size', tile_size, 128)):
            if value < low:
                raise ValueError(f'FixMatchVisualizationHook: {key} must be '
                                 f'>= {low}, got {value}')
        self.interval = interval
        self.num_samples = num_samples
        self.tile_size = tile_size
        self.name = name

    def after_train_iter(self, runner: Runner, batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        """Every ``interval`` iterations, draw the batch's first samples."""
        if not self.every_n_train_iters(runner, self.interval):
            return
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        if not isinstance(model, FixMatchSegmentor):
            raise TypeError('FixMatchVisualizationHook needs a '
                            f'FixMatchSegmentor, got {type(model).__name__}')
        views = fixmatch_views(model, data_batch, self.num_samples,
                               runner.iter)
        panel = self.make_panel(
            views, model.data_preprocessor,
            getattr(runner.visualizer, 'dataset_meta', None) or {},
            self.tile_size)
        runner.visualizer.add_image(self.name, panel, step=runner.iter + 1)

    @staticmethod
    def make_panel(views: Dict[str, torch.Tensor], data_preprocessor,
                   dataset_meta: dict, tile_size: int = 256) -> np.ndarray:
        """RGB uint8 panel from :func:`fixmatch_views`.

        Args:
            views (dict): ``weak``, ``strong`` (N, 3, H, W) preprocessed;
                ``pseudo_label``, ``conf``, ``ignore``, ``conf_thr``,
                ``pred`` (N, H, W).
            data_preprocessor: The model's data preprocessor (to undo the
                normalisation and the channel order).
            dataset_meta (dict): ``classes`` and ``palette``, if known.
            tile_size (int): Side of each tile.

        Returns:
            np.ndarray: (N * (tile_size + 28) + legend height,
            5 * tile_size, 3) uint8 RGB.
        """
        pre = getattr(data_preprocessor, 'data_preprocessor',
                      data_preprocessor)
        num_classes = int(max(views['pseudo_label'].max(),
                              views['pred'].max())) + 1
        classes = list(dataset_meta.get('classes') or [])
        num_classes = max(num_classes, len(classes))
        palette = _palette(dataset_meta.get('palette'), num_classes)
        rows = []
        for i in range(views['weak'].shape[0]):
            ignore = views['ignore'][i].cpu().numpy()
            conf = views['conf'][i].float().cpu().numpy()
            low = conf < views['conf_thr'][i].float().cpu().numpy()
            thr = views['conf_thr'][i][~views['ignore'][i]]
            thr_text = (f'{thr.min():.2f}-{thr.max():.2f}' if thr.numel()
                        and thr.min() != thr.max() else
                        f'{float(thr.max()) if thr.numel() else 0:.2f}')
            tiles = [
                (_to_image(views['weak'][i], pre), 'weak view'),
                (_to_image(views['strong'][i], pre), 'strong view + CutMix'),
                (_dim(_colour(views['pseudo_label'][i], palette, ignore),
                      low & ~ignore), 'pseudo-label (dim: < thr)'),
                (_heat_map(conf, low, ignore, tile_size),
                 f'confidence, thr {thr_text}'),
                (_colour(views['pred'][i], palette, ignore),
                 'student prediction'),
            ]
            rows.append(np.concatenate(
                [_titled(_upscale(t, tile_size), title, tile_size)
                 for t, title in tiles], axis=1))
        panel = np.concatenate(rows, axis=0)
        legend = _legend(classes or [f'class {k}' for k in range(num_classes)],
                         palette, panel.shape[1])
        return np.ascontiguousarray(np.concatenate([panel, legend], axis=0))


@torch.no_grad()
def fixmatch_views(model: FixMatchSegmentor, data_batch: dict,
                   num_samples: int,
                   iteration: int) -> Dict[str, torch.Tensor]:
    """The first ``num_samples`` unlabeled samples of a training batch as
    FixMatch saw them at ``iteration``.

    Re-runs ``get_pseudo_labels`` and the CutMix of the model's training
    step on ``data_batch`` with the current weights and the boxes that
    ``iteration`` draws (``seeded_generator(iteration)``), the student
    predicting the mixed strong view in eval mode. Nothing is updated:
    class and BN statistics and random generators are left as they were.

    Args:
        model (FixMatchSegmentor): The (unwrapped) model.
        data_batch (dict): A raw multi-branch batch from the dataloader.
        num_samples (int): How many samples to return (at most the batch
            size).
        iteration (int): The training iteration that used the batch.

    Returns:
        dict[str, Tensor]: ``weak``, ``strong`` (N, 3, H, W) preprocessed
        images; ``pseudo_label``, ``conf``, ``ignore``, ``conf_thr``
        (per-pixel threshold), ``pred`` (N, H, W).
    """
    data = model.data_preprocessor(data_batch, True)
    inputs, samples = data['inputs'], data['data_samples']
    weak = inputs['unsup_teacher']
    was_training = model.training
    try:
        pseudo = model.get_pseudo_labels(
            weak, samples['unsup_teacher'], update_stats=False)
        model.student.eval()
        image, mixed = model.cutmix(inputs['unsup_student'], pseudo,
                                    seeded_generator(iteration))
        pred = model.student_logits(image[:num_samples])
    finally:
        model.train(was_training)
    n = num_samples
    return dict(weak=weak[:n], strong=image[:n], pseudo_label=mixed.label[:n],
                conf=mixed.conf[:n], ignore=mixed.ignore[:n],
                conf_thr=torch.full_like(mixed.conf[:n], pseudo.conf_thr),
                pred=pred.argmax(dim=1))


def _palette(palette: Optional[Sequence], num_classes: int) -> np.ndarray:
    """(num_classes, 3) uint8 colours: the dataset's, else fixed random."""
    if palette is not None and len(palette) >= num_classes:
        return np.asarray(palette, dtype=np.uint8)
    rng = np.random.RandomState(42)
    return rng.randint(0, 256, size=(max(num_classes, 1), 3), dtype=np.uint8)


def _to_image(img: torch.Tensor, pre) -> np.ndarray:
    """Preprocessed (3, H, W) tensor back to uint8 RGB (H, W, 3)."""
    img = img.float().cpu()
    mean, std = getattr(pre, 'mean', None), getattr(pre, 'std', None)
    if mean is not None and std is not None:
        img = img * std.cpu() + mean.cpu()
    img = img.round().clamp(0, 255).byte().permute(1, 2, 0).numpy()
    if not getattr(pre, 'channel_conversion', False):
        img = img[..., ::-1]  # inputs still BGR: show as RGB
    return np.ascontiguousarray(img)


def _colour(label: torch.Tensor, palette: np.ndarray,
            ignore: np.ndarray) -> np.ndarray:
    out = palette[label.cpu().numpy()]
    out[ignore] = GREY
    return out


def _dim(img: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = img.copy()
    out[mask] = out[mask] // 3
    return out


def _heat_map(conf: np.ndarray, low: np.ndarray, ignore: np.ndarray,
              tile_size: int) -> np.ndarray:
    """Viridis confidence, dimmed below the threshold, white contour at it."""
    grey = np.round(np.clip(conf, 0, 1) * 255).astype(np.uint8)
    heat = cv2.applyColorMap(grey, cv2.COLORMAP_VIRIDIS)[..., ::-1]
    heat = _dim(heat, low & ~ignore)
    heat[ignore] = GREY
    heat = _upscale(heat, tile_size)
    mask = _upscale((~low & ~ignore).astype(np.uint8), tile_size)
    contours, _ = cv2.findContours(mask, cv2.RETR_LIST,
                                   cv2.CHAIN_APPROX_NONE)
    heat = np.ascontiguousarray(heat)
    cv2.drawContours(heat, contours, -1, (255, 255, 255), 1)
    return heat


def _upscale(img: np.ndarray, size: int) -> np.ndarray:
    if img.shape[:2] == (size, size):
        return img
    return mmcv.imresize(img, (size, size), interpolation='nearest')


def _text(img: np.ndarray, text: str, org, scale: float = 0.45) -> None:
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale,
                (255, 255, 255), 1, cv2.LINE_AA)


def _titled(tile: np.ndarray, title: str, width: int) -> np.ndarray:
    strip = np.full((TITLE_H, width, 3), 32, dtype=np.uint8)
    _text(strip, title, (6, TITLE_H - 9))
    return np.concatenate([strip, tile], axis=0)


def _legend(classes: List[str], palette: np.ndarray,
            width: int) -> np.ndarray:
    """Class swatches with names, then the heat-map's 0..1 scale."""
    cell_w, cell_h = 170, 24
    per_row = max((width - 10) // cell_w, 1)
    n_rows = -(-len(classes) // per_row) + 1  # + the heat-map scale
    legend = np.full((n_rows * cell_h + 8, width, 3), 32, dtype=np.uint8)
    for k, name in enumerate(classes):
        x = 6 + (k % per_row) * cell_w
        y = 4 + (k // per_row) * cell_h
        legend[y + 4:y + cell_h - 4, x:x + 16] = palette[k]
        _text(legend, f'{k} {name}'[:22], (x + 22, y + cell_h - 8))
    y = 4 + (n_rows - 1) * cell_h
    _text(legend, 'confidence 0', (6, y + cell_h - 8))
    ramp = np.round(np.linspace(0, 255, 256)).astype(np.uint8)[None]
    ramp = cv2.applyColorMap(ramp, cv2.COLORMAP_VIRIDIS)[..., ::-1]
    x0 = 120
    legend[y + 4:y + cell_h - 4, x0:x0 + 256] = ramp
    _text(legend, '1', (x0 + 262, y + cell_h - 8))
    return legend
