"""s5_mm.selection.shard_scorer.ShardScorer: one shard scored into its
files, the model's mode and hooks restored; score_shards over ranks."""
import json
import os
import os.path as osp

import numpy as np
import pytest
from selection_utils import UNLABELED

from s5_mm.selection import list_pool
from s5_mm.selection.settings import SelectionSettings
from s5_mm.selection.shard_scorer import ShardScorer, score_shards

pytestmark = pytest.mark.xdist_group('seg_demo_scored')  # its session model


def _paths():
    return list_pool(UNLABELED)[:5]


def test_shard_files_and_restored_model(seg_demo_model, seg_demo_pipeline,
                                        tmp_path):
    settings = SelectionSettings(shard_size=2, batch_size=2, num_workers=0)
    out = str(tmp_path / 'unl')
    scorer = ShardScorer(seg_demo_model, seg_demo_pipeline, UNLABELED,
                         _paths(), out, settings)
    assert scorer.num_shards == 3
    assert [scorer.shard_len(s) for s in range(3)] == [2, 2, 1]
    with pytest.raises(RuntimeError, match='inside a with block'):
        scorer.score_shard(0)
    hooks = len(seg_demo_model.backbone._forward_hooks)
    seg_demo_model.train()
    try:
        with scorer:
            assert not seg_demo_model.training
            assert len(seg_demo_model.backbone._forward_hooks) == hooks + 1
            assert scorer.score_shard(2) == (1, 0)
            assert scorer.score_shard(0) == (2, 0)
        assert seg_demo_model.training and scorer.recorder is None
        assert len(seg_demo_model.backbone._forward_hooks) == hooks
    finally:
        seg_demo_model.eval()
    shards = osp.join(out, 'shards')
    assert sorted(os.listdir(shards)) == [
        f'{s:06d}{ext}' for s in (0, 2)
        for ext in ('.done.json', '.feat.npy', '.rejects.tsv', '.scores.npy')]
    assert json.load(open(osp.join(shards, '000002.done.json'))) == dict(
        shard=2, start=4, stop=5, scored=1, rejected=0)
    assert np.load(osp.join(shards, '000002.scores.npy'))['index'].tolist() \
        == [4]
    assert np.load(osp.join(shards, '000000.scores.npy'))['index'].tolist() \
        == [0, 1]
    feat = np.load(osp.join(shards, '000002.feat.npy'))
    assert feat.shape == (1, 64) and feat.dtype == np.float16
    assert open(osp.join(shards, '000002.rejects.tsv')).read() == ''

    # the same images in one shard (one batch of 5, same-size scenes: no
    # padding) give the same entropies and features
    whole = str(tmp_path / 'whole')
    with ShardScorer(seg_demo_model, seg_demo_pipeline, UNLABELED, _paths(),
                     whole, SelectionSettings(shard_size=5, batch_size=5,
                                              num_workers=0)) as one:
        assert one.score_shard(0) == (5, 0)
    ref = np.load(osp.join(whole, 'shards', '000000.scores.npy'))
    got = np.concatenate([np.load(osp.join(shards, f'{s:06d}.scores.npy'))
                          for s in (0, 2)])
    np.testing.assert_allclose(got['entropy'], ref['entropy'][[0, 1, 4]],
                               rtol=1e-5)
    np.testing.assert_allclose(
        feat.astype(np.float32),
        np.load(osp.join(whole, 'shards', '000000.feat.npy'))[[4]].astype(
            np.float32), rtol=1e-3, atol=1e-3)  # float16 rounding


def test_ranks_take_every_other_shard(seg_demo_model, seg_demo_pipeline,
                                      tmp_path):
    out = str(tmp_path / 'unl')
    settings = SelectionSettings(shard_size=2, batch_size=2, num_workers=0)
    # rank 1 of 2: shard 1 only (images 2, 3)
    stats = score_shards(seg_demo_model, seg_demo_pipeline, UNLABELED,
                         _paths(), out, settings, rank=1, world_size=2,
                         progress=False)
    assert stats == dict(shards_scored=1, images_scored=2, images_rejected=0,
                         shards_left=0)
    assert sorted(n for n in os.listdir(osp.join(out, 'shards'))
                  if n.endswith('.done.json')) == ['000001.done.json']
    # rank 0, at most one shard per call: 0, then 2, then nothing left
    settings = SelectionSettings(shard_size=2, batch_size=2, num_workers=0,
                                 max_shards=1)
    runs = [score_shards(seg_demo_model, seg_demo_pipeline, UNLABELED,
                         _paths(), out, settings, rank=0, world_size=2,
                         progress=False) for _ in range(3)]
    assert [(r['shards_scored'], r['images_scored'], r['shards_left'])
            for r in runs] == [(1, 2, 1), (1, 1, 0), (0, 0, 0)]
