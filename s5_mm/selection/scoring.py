"""Scoring one batch of pool images: entropy + pooled feature.

Any mmseg segmentor runs over the images once; for every image it records
the mean softmax entropy of the prediction (padding excluded) and one pooled
feature vector, taken with a forward hook (:class:`FeatureRecorder`) from
the chosen module output during that same forward pass (no second backbone
pass). Shards of a pool are scored by
:class:`s5_mm.selection.shard_scorer.ShardScorer`.
"""
import os.path as osp
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope
from torch import Tensor, nn

from .entropy import masked_avg_pool, mean_entropy, padding_valid_mask

SCORE_DTYPE = np.dtype([('index', '<i8'), ('entropy', '<f4')])


def build_scoring_pipeline(cfg: Config,
                           pipeline: Optional[List[dict]] = None) -> Compose:
    """Test pipeline of ``cfg`` without annotation loading.

    Args:
        cfg (Config): mmseg config.
        pipeline (list[dict], optional): Explicit pipeline; default: the
            config's ``test_dataloader.dataset.pipeline`` (or
            ``test_pipeline``) with every ``*LoadAnnotations`` step removed.
    """
    if pipeline is None:
        if 'test_dataloader' in cfg and 'pipeline' in cfg.test_dataloader.get(
                'dataset', {}):
            pipeline = cfg.test_dataloader.dataset.pipeline
        elif 'test_pipeline' in cfg:
            pipeline = cfg.test_pipeline
        else:
            raise KeyError(
                'the config has neither test_dataloader.dataset.pipeline nor '
                'test_pipeline; pass a scoring pipeline explicitly')
        pipeline = [
            t for t in pipeline if 'LoadAnnotations' not in str(t['type'])
        ]
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    return Compose(pipeline)


class PoolDataset(torch.utils.data.Dataset):
    """Images ``indices`` of a pool, each run through ``pipeline``.

    An image that fails to load or transform becomes a record
    ``dict(index=i, error='<Exception>: <message>')`` instead of raising, so
    the scorer can log it in the rejects file.
    """

    def __init__(self, root: str, rel_paths: Sequence[str],
                 indices: Sequence[int], pipeline: Callable) -> None:
        self.root = root
        self.rel_paths = rel_paths
        self.indices = list(indices)
        self.pipeline = pipeline

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, k: int) -> dict:
        i = self.indices[k]
        path = osp.join(self.root, self.rel_paths[i])
        try:
            if osp.getsize(path) == 0:
                raise ValueError('empty file (0 bytes)')
            data = self.pipeline(
                dict(img_path=path, seg_fields=[], reduce_zero_label=False))
            if data is None:
                raise ValueError('the pipeline dropped the image')
        except Exception as e:  # noqa: BLE001 (any failure is a reject)
            kind = type(e)
            name = kind.__qualname__ if kind.__module__ == 'builtins' else \
                f'{kind.__module__}.{kind.__qualname__}'
            msg = ' '.join(str(e).split()) or 'no message'
            return dict(index=i, error=f'{name}: {msg}')
        return dict(index=i, data=data)


class FeatureRecorder:
    """Forward hook keeping one output level of a module for pooling.

    Args:
        model (nn.Module): The segmentor.
        module (str): Dotted name of the module, e.g. ``'neck'`` or
            ``'backbone'``.
        index (int): Which element of a tuple/list output. Defaults to -1.
    """

    def __init__(self, model: nn.Module, module: str = 'backbone',
                 index: int = -1) -> None:
        try:
            target = model.get_submodule(module)
        except AttributeError as e:
            names = [n for n, _ in model.named_children()]
            raise KeyError(f'feature module {module!r} not found in '
                           f'{type(model).__name__} (children: {names}); set '
                           'feature_module to one of them') from e
        self.module, self.index = module, index
        self.outputs: List[Tensor] = []
        self.handle = target.register_forward_hook(self._hook)

    def _hook(self, module, args, output) -> None:
        out = output
        if isinstance(out, (tuple, list)):
            out = out[self.index]
        if isinstance(out, (tuple, list)):  # e.g. ViT (patch map, cls token)
            out = out[0]
        if not isinstance(out, Tensor) or out.dim() != 4:
            raise TypeError(
                f'output {self.index} of {self.module!r} is not a '
                '(B, C, h, w) feature map; choose another feature_module / '
                'feature_index')
        self.outputs.append(out)

    def pop(self) -> List[Tensor]:
        outs, self.outputs = self.outputs, []
        return outs

    def remove(self) -> None:
        self.handle.remove()


def forward_batch(model: nn.Module,
                  samples: List[dict]) -> Tuple[Tensor, Tensor]:
    """Preprocess + ``model.inference`` for a list of packed samples.

    Each image goes through the model's data preprocessor alone (so its own
    padding is known), then the batch is padded right/bottom to its largest
    image; padding is tracked per image in mmseg's ``padding_size`` order.

    Returns:
        tuple: logits ``(B, C, H, W)`` at the batch input size and the bool
        mask ``(B, H, W)`` of non-padded pixels.
    """
    inputs, metas, pads = [], [], []
    for s in samples:
        out = model.data_preprocessor(
            dict(inputs=[s['inputs']], data_samples=[s['data_samples']]),
            False)
        inputs.append(out['inputs'][0])
        meta = dict(out['data_samples'][0].metainfo)
        metas.append(meta)
        pads.append(list(meta.get('padding_size', [0, 0, 0, 0])))
    height = max(x.shape[-2] for x in inputs)
    width = max(x.shape[-1] for x in inputs)
    pad_val = getattr(model.data_preprocessor, 'pad_val', 0)
    for k, x in enumerate(inputs):
        extra_w, extra_h = width - x.shape[-1], height - x.shape[-2]
        if extra_w or extra_h:
            inputs[k] = F.pad(x, (0, extra_w, 0, extra_h), value=pad_val)
            pads[k][1] += extra_w
            pads[k][3] += extra_h
        metas[k]['pad_shape'] = (height, width)
        metas[k]['padding_size'] = pads[k]
        # logits are wanted at the batch input size, not the original one
        # (this also silences mmseg's per-batch "shapes differ" warning)
        metas[k]['ori_shape'] = (height, width)
    batch = torch.stack(inputs)
    logits = model.inference(batch, metas)
    if tuple(logits.shape[-2:]) != (height, width):
        logits = F.interpolate(
            logits, size=(height, width), mode='bilinear', align_corners=False)
    valid = padding_valid_mask(len(samples), height, width, pads,
                               device=logits.device)
    return logits, valid


@torch.no_grad()
def score_batch(model: nn.Module, samples: List[dict],
                recorder: FeatureRecorder) -> Tuple[np.ndarray, np.ndarray]:
    """Mean entropy and pooled feature of each sample (one forward pass).

    Returns:
        tuple: ``(B, )`` float32 entropies and ``(B, D)`` float16 features.
        With slide inference the features of all windows are averaged.
    """
    recorder.pop()
    logits, valid = forward_batch(model, samples)
    ent = mean_entropy(logits, valid)
    feats = recorder.pop()
    if not feats:
        raise RuntimeError(f'feature module {recorder.module!r} did not run '
                           'in the forward pass; choose a module the '
                           'segmentor calls at inference')
    if len(feats) == 1:
        pooled = masked_avg_pool(feats[0], valid)
    else:  # slide inference: one call per window
        pooled = torch.stack([masked_avg_pool(f) for f in feats]).mean(0)
    return (ent.cpu().numpy().astype(np.float32),
            pooled.cpu().numpy().astype(np.float16))
