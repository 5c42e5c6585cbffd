"""Panels of FixMatch's views and pseudo-labels during training."""
from typing import Optional, Sequence

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner
from mmseg.registry import HOOKS


@HOOKS.register_module()
class FixMatchVisualizationHook(Hook):
    """Every ``interval`` iterations, write one panel through the visualizer.

    The panel shows, for the first unlabeled image of the batch, side by
    side: the weak view, the (CutMix-ed) strong view, the pseudo-label, the
    confidence mask (white = confidence >= tau and not padding) and the
    student's prediction on the strong view. It goes to every backend of the
    runner's visualizer (``LocalVisBackend`` writes
    ``vis_data/vis_image/fixmatch_<iter>.png``; add
    ``dict(type='TensorboardVisBackend')`` to ``vis_backends`` for
    TensorBoard).

    Args:
        interval (int): Iterations between panels. Defaults to 500.
        name (str): Image name in the backends. Defaults to 'fixmatch'.
    """

    priority = 'LOW'

    def __init__(self, interval: int = 500, name: str = 'fixmatch') -> None:
        if interval < 1:
            raise ValueError(f'FixMatchVisualizationHook: interval must be '
                             f'>= 1, got {interval}')
        self.interval = interval
        self.name = name

    @staticmethod
    def _model(runner: Runner):
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        if not hasattr(model, 'vis_requested'):
            raise TypeError('FixMatchVisualizationHook needs a '
                            f'FixMatchSegmentor, got {type(model).__name__}')
        return model

    def before_train_iter(self, runner: Runner, batch_idx: int,
                          data_batch: Optional[dict] = None) -> None:
        """Ask the model to keep this iteration's views."""
        self._model(runner).vis_requested = self.every_n_train_iters(
            runner, self.interval)

    def after_train_iter(self, runner: Runner, batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        """Write the panel of the kept views."""
        model = self._model(runner)
        if not model.vis_requested or model.vis_data is None:
            return
        model.vis_requested = False
        panel = self.make_panel(
            model.vis_data,
            model.data_preprocessor,
            getattr(runner.visualizer, 'dataset_meta', None) or {},
        )
        model.vis_data = None
        runner.visualizer.add_image(self.name, panel, step=runner.iter + 1)

    @staticmethod
    def make_panel(vis_data: dict, data_preprocessor,
                   dataset_meta: dict) -> np.ndarray:
        """RGB uint8 panel (H, 5 * W, 3) from the model's kept views."""
        # the SegDataPreProcessor inside MultiBranchDataPreprocessor
        pre = getattr(data_preprocessor, 'data_preprocessor',
                      data_preprocessor)
        mean = getattr(pre, 'mean', None)
        std = getattr(pre, 'std', None)

        def to_image(img: torch.Tensor) -> np.ndarray:
            img = img.float().cpu()
            if mean is not None and std is not None:
                img = img * std.cpu() + mean.cpu()
            img = img.round().clamp(0, 255).byte().permute(1, 2, 0).numpy()
            if not getattr(pre, 'channel_conversion', False):
                img = img[..., ::-1]  # inputs still BGR: show as RGB
            return np.ascontiguousarray(img)

        num_classes = int(max(vis_data['pseudo_label'].max(),
                              vis_data['pred'].max())) + 1
        palette = _palette(dataset_meta.get('palette'), num_classes)

        def to_color(label: torch.Tensor) -> np.ndarray:
            return palette[label.cpu().numpy()]

        conf = vis_data['conf_mask'].cpu().numpy().astype(np.uint8) * 255
        tiles = [
            to_image(vis_data['weak']),
            to_image(vis_data['strong']),
            to_color(vis_data['pseudo_label']),
            np.repeat(conf[..., None], 3, axis=2),
            to_color(vis_data['pred']),
        ]
        return np.concatenate(tiles, axis=1)


def _palette(palette: Optional[Sequence], num_classes: int) -> np.ndarray:
    """(num_classes, 3) uint8 colours: the dataset's, else fixed random."""
    if palette is not None and len(palette) >= num_classes:
        return np.asarray(palette, dtype=np.uint8)
    rng = np.random.RandomState(42)
    return rng.randint(0, 256, size=(max(num_classes, 1), 3), dtype=np.uint8)
