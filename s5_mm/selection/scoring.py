"""Streaming, sharded, resumable scorer of an image pool.

Any mmseg segmentor runs over the pool once; for every image it records the
mean softmax entropy of the prediction (padding excluded) and one pooled
feature vector, taken with a forward hook from the chosen module output
during that same forward pass (no second backbone pass).

The pool (a sorted list of paths) is cut into fixed shards of
``shard_size`` images; rank ``r`` of ``W`` scores shards ``s % W == r`` and
writes each shard's files atomically, a ``.done.json`` marker last. A
restarted run skips shards whose marker exists and redoes the others, so a
killed run ends with exactly the same bytes as an uninterrupted one (same
shards -> same batches -> same numbers). Memory holds one shard at a time.
"""
import logging
import math
import os.path as osp
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.logging import print_log
from mmengine.registry import init_default_scope
from mmengine.utils import ProgressBar
from torch import Tensor, nn

from .entropy import masked_avg_pool, mean_entropy, padding_valid_mask
from .io import atomic_save_npy, atomic_write_json, atomic_write_text

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


def shard_prefix(out_dir: str, shard: int) -> str:
    """Path prefix of a shard's files (``<out_dir>/shards/000042``)."""
    return osp.join(out_dir, 'shards', f'{shard:06d}')


def shard_done(out_dir: str, shard: int) -> bool:
    """Whether a shard is complete (its marker is written last)."""
    return osp.isfile(shard_prefix(out_dir, shard) + '.done.json')


def num_shards_of(num_images: int, shard_size: int) -> int:
    """Number of shards of a pool (at least one, possibly empty)."""
    return max(1, math.ceil(num_images / shard_size))


def score_shards(model: nn.Module,
                 pipeline: Callable,
                 root: str,
                 rel_paths: Sequence[str],
                 out_dir: str,
                 feature_module: str = 'backbone',
                 feature_index: int = -1,
                 shard_size: int = 1000,
                 batch_size: int = 8,
                 num_workers: int = 0,
                 on_error: str = 'skip',
                 rank: int = 0,
                 world_size: int = 1,
                 max_shards: Optional[int] = None,
                 progress: bool = True) -> Dict[str, int]:
    """Score this rank's unfinished shards of a pool.

    Args:
        model (nn.Module): mmseg segmentor (put in eval mode while scoring,
            then restored).
        pipeline (Callable): Per-image pipeline ending with ``PackSegInputs``.
        root (str): Pool root.
        rel_paths (Sequence[str]): Pool images relative to ``root``.
        out_dir (str): Output folder; shard files go to ``out_dir/shards``.
        feature_module (str): Module whose output is pooled into features.
        feature_index (int): Output element of that module.
        shard_size (int): Images per shard (fixes the resumable unit).
        batch_size (int): Images per forward pass.
        num_workers (int): DataLoader workers for decoding.
        on_error (str): ``'skip'`` records a bad image in the shard's rejects
            file and goes on; ``'stop'`` records it and raises.
        rank (int): This process' rank.
        world_size (int): Number of ranks.
        max_shards (int, optional): Score at most this many shards in this
            call (e.g. to fit a time-limited job); the rest stays for a
            later run.
        progress (bool): Show a progress bar (images/s, ETA).

    Returns:
        dict: ``shards_scored``, ``images_scored``, ``images_rejected`` and
        ``shards_left`` (this rank's shards still without a marker).
    """
    if on_error not in ('skip', 'stop'):
        raise ValueError(
            f"on_error must be 'skip' or 'stop', got {on_error!r}")
    num = len(rel_paths)
    mine = [
        s for s in range(num_shards_of(num, shard_size))
        if s % world_size == rank
    ]
    todo = [s for s in mine if not shard_done(out_dir, s)]
    if max_shards is not None:
        todo = todo[:max_shards]
    total = sum(min(num, (s + 1) * shard_size) - s * shard_size for s in todo)
    bar = ProgressBar(total) if progress and total else None
    was_training = model.training
    model.eval()
    recorder = FeatureRecorder(model, feature_module, feature_index)
    stats = dict(shards_scored=0, images_scored=0, images_rejected=0)
    try:
        for shard in todo:
            ok, rej = _score_one_shard(model, pipeline, root, rel_paths,
                                       out_dir, shard, shard_size, batch_size,
                                       num_workers, on_error, recorder, bar)
            stats['shards_scored'] += 1
            stats['images_scored'] += ok
            stats['images_rejected'] += rej
    finally:
        recorder.remove()
        model.train(was_training)
    if bar is not None:
        bar.file.write('\n')
    stats['shards_left'] = sum(not shard_done(out_dir, s) for s in mine)
    return stats


def _score_one_shard(model, pipeline, root, rel_paths, out_dir, shard,
                     shard_size, batch_size, num_workers, on_error, recorder,
                     bar) -> Tuple[int, int]:
    start = shard * shard_size
    stop = min(len(rel_paths), start + shard_size)
    loader = torch.utils.data.DataLoader(
        PoolDataset(root, rel_paths, range(start, stop), pipeline),
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        collate_fn=list)  # rejects and good images mixed
    index, ent, feats, rejects = [], [], [], []
    prefix = shard_prefix(out_dir, shard)
    for batch in loader:
        good = []
        for item in batch:
            if 'error' in item:
                rejects.append((item['index'], item['error']))
                if on_error == 'stop':
                    _write_rejects(prefix + '.rejects.tsv', rel_paths, rejects)
                    path = osp.join(root, rel_paths[item['index']])
                    raise RuntimeError(
                        f'cannot score {path}: {item["error"]} (recorded in '
                        f'{prefix}.rejects.tsv). Fix or remove the file, or '
                        'use --on-error skip to log bad images and continue')
            else:
                good.append(item)
        if good:
            e, f = score_batch(model, [g['data'] for g in good], recorder)
            index.extend(g['index'] for g in good)
            ent.append(e)
            feats.append(f)
        if bar is not None:
            bar.update(len(batch))
    scores = np.empty(len(index), dtype=SCORE_DTYPE)
    scores['index'] = index
    scores['entropy'] = np.concatenate(ent) if ent else []
    feat = np.concatenate(feats) if feats else np.zeros((0, 0), np.float16)
    atomic_save_npy(prefix + '.scores.npy', scores)
    atomic_save_npy(prefix + '.feat.npy', feat)
    _write_rejects(prefix + '.rejects.tsv', rel_paths, rejects)
    atomic_write_json(prefix + '.done.json',
                      dict(shard=shard, start=start, stop=stop,
                           scored=len(index), rejected=len(rejects)))
    for i, reason in rejects:
        print_log(f'rejected {rel_paths[i]}: {reason}', logger='current',
                  level=logging.WARNING)
    return len(index), len(rejects)


def _write_rejects(path: str, rel_paths: Sequence[str], rejects) -> None:
    atomic_write_text(path, ''.join(f'{rel_paths[i]}\t{reason}\n'
                                    for i, reason in rejects))
