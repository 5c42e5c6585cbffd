"""Streaming, sharded, resumable scoring of an image pool.

The pool (a fixed list of paths) is cut into shards of ``shard_size``
images (names in :mod:`s5_mm.selection.layout`); rank ``r`` of ``W`` scores
shards ``s % W == r`` and writes each shard's files atomically, the
``.done.json`` marker last. A restarted run skips shards whose marker exists
and redoes the others, so a killed run ends with exactly the same bytes as
an uninterrupted one (same shards -> same batches -> same numbers). Memory
holds one shard at a time.
"""
import logging
import os.path as osp
from typing import Callable, Dict, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.logging import print_log
from mmengine.utils import ProgressBar
from torch import nn

from .io import atomic_save_npy, atomic_write_json, atomic_write_text
from .layout import num_shards_of, shard_done, shard_prefix, shard_range
from .scoring import SCORE_DTYPE, FeatureRecorder, PoolDataset, score_batch
from .settings import SelectionSettings


class ShardScorer:
    """Scores the shards of one pool into ``score_dir/shards``.

    Use as a context manager: inside, the model is in eval mode and a
    :class:`FeatureRecorder` is attached; both are undone on exit.

    Args:
        model (nn.Module): mmseg segmentor.
        pipeline (Callable): Per-image pipeline ending with ``PackSegInputs``.
        root (str): Pool root.
        rel_paths (Sequence[str]): Pool images relative to ``root``.
        score_dir (str): Output folder of the pool.
        settings (SelectionSettings): ``feature_module``, ``feature_index``,
            ``shard_size``, ``batch_size``, ``num_workers`` and ``on_error``
            are used.
        bar (ProgressBar, optional): Advanced by every scored image.
    """

    def __init__(self, model: nn.Module, pipeline: Callable, root: str,
                 rel_paths: Sequence[str], score_dir: str,
                 settings: SelectionSettings,
                 bar: Optional[ProgressBar] = None) -> None:
        self.model, self.pipeline = model, pipeline
        self.root, self.rel_paths = root, rel_paths
        self.score_dir, self.settings, self.bar = score_dir, settings, bar
        self.recorder: Optional[FeatureRecorder] = None
        self._was_training = model.training

    def __enter__(self) -> 'ShardScorer':
        self._was_training = self.model.training
        self.model.eval()
        self.recorder = FeatureRecorder(self.model,
                                        self.settings.feature_module,
                                        self.settings.feature_index)
        return self

    def __exit__(self, *exc) -> None:
        self.recorder.remove()
        self.recorder = None
        self.model.train(self._was_training)

    @property
    def num_shards(self) -> int:
        return num_shards_of(len(self.rel_paths), self.settings.shard_size)

    def shard_len(self, shard: int) -> int:
        """Images in ``shard``."""
        return len(shard_range(shard, self.settings.shard_size,
                               len(self.rel_paths)))

    def score_shard(self, shard: int) -> Tuple[int, int]:
        """Score one shard and write its files, the done marker last.

        Returns:
            tuple: Images scored and images rejected.
        """
        if self.recorder is None:
            raise RuntimeError('use ShardScorer inside a with block')
        indices = shard_range(shard, self.settings.shard_size,
                              len(self.rel_paths))
        loader = torch.utils.data.DataLoader(
            PoolDataset(self.root, self.rel_paths, indices, self.pipeline),
            batch_size=self.settings.batch_size,
            shuffle=False,
            num_workers=self.settings.num_workers,
            collate_fn=list)  # rejects and good images mixed
        prefix = shard_prefix(self.score_dir, shard)
        index, ent, feats, rejects = [], [], [], []
        for batch in loader:
            good = [item for item in batch if 'error' not in item]
            for item in batch:
                if 'error' in item:
                    rejects.append((item['index'], item['error']))
                    if self.settings.on_error == 'stop':
                        self._stop(prefix, rejects)
            if good:
                e, f = score_batch(self.model, [g['data'] for g in good],
                                   self.recorder)
                index.extend(g['index'] for g in good)
                ent.append(e)
                feats.append(f)
            if self.bar is not None:
                self.bar.update(len(batch))
        scores = np.empty(len(index), dtype=SCORE_DTYPE)
        scores['index'] = index
        scores['entropy'] = np.concatenate(ent) if ent else []
        feat = np.concatenate(feats) if feats else np.zeros((0, 0),
                                                            np.float16)
        atomic_save_npy(prefix + '.scores.npy', scores)
        atomic_save_npy(prefix + '.feat.npy', feat)
        self._write_rejects(prefix, rejects)
        atomic_write_json(prefix + '.done.json',
                          dict(shard=shard, start=indices.start,
                               stop=indices.stop, scored=len(index),
                               rejected=len(rejects)))
        for i, reason in rejects:
            print_log(f'rejected {self.rel_paths[i]}: {reason}',
                      logger='current', level=logging.WARNING)
        return len(index), len(rejects)

    def _write_rejects(self, prefix: str, rejects) -> None:
        atomic_write_text(prefix + '.rejects.tsv', ''.join(
            f'{self.rel_paths[i]}\t{reason}\n' for i, reason in rejects))

    def _stop(self, prefix: str, rejects) -> None:
        self._write_rejects(prefix, rejects)
        i, reason = rejects[-1]
        path = osp.join(self.root, self.rel_paths[i])
        raise RuntimeError(
            f'cannot score {path}: {reason} (recorded in '
            f'{prefix}.rejects.tsv). Fix or remove the file, or use '
            '--on-error skip to log bad images and continue')


def score_shards(model: nn.Module,
                 pipeline: Callable,
                 root: str,
                 rel_paths: Sequence[str],
                 score_dir: str,
                 settings: SelectionSettings,
                 rank: int = 0,
                 world_size: int = 1,
                 progress: bool = True) -> Dict[str, int]:
    """Score this rank's unfinished shards of a pool (at most
    ``settings.max_shards`` in this call).

    Returns:
        dict: ``shards_scored``, ``images_scored``, ``images_rejected`` and
        ``shards_left`` (this rank's shards still without a marker).
    """
    num = num_shards_of(len(rel_paths), settings.shard_size)
    mine = [s for s in range(num) if s % world_size == rank]
    todo = [s for s in mine if not shard_done(score_dir, s)]
    if settings.max_shards is not None:
        todo = todo[:settings.max_shards]
    stats = dict(shards_scored=0, images_scored=0, images_rejected=0)
    scorer = ShardScorer(model, pipeline, root, rel_paths, score_dir,
                         settings)
    total = sum(scorer.shard_len(s) for s in todo)
    scorer.bar = ProgressBar(total) if progress and total else None
    with scorer:
        for shard in todo:
            ok, rej = scorer.score_shard(shard)
            stats['shards_scored'] += 1
            stats['images_scored'] += ok
            stats['images_rejected'] += rej
    if scorer.bar is not None:
        scorer.bar.file.write('\n')
    stats['shards_left'] = sum(not shard_done(score_dir, s) for s in mine)
    return stats
