"""The scorer on the bundled unlabeled scenes with the tiny demo model."""
import math
import os
import os.path as osp
import shutil

import numpy as np
import pytest
import torch

from s5_mm.selection import FeatureRecorder, list_pool, score_pool
from s5_mm.selection.scoring import forward_batch, score_batch

from selection_utils import UNLABELED


def _read(path):
    with open(path, encoding='utf-8') as f:
        return f.read()


def test_scorer_writes_one_row_per_image(seg_demo_model, seg_demo_pipeline,
                                         tmp_path):
    paths = list_pool(UNLABELED)
    assert len(paths) == 72  # 70 RSSCN7 scenes in 7 folders + 2 jpgs
    out = str(tmp_path / 'unl')
    stats = score_pool(seg_demo_model,
                       seg_demo_pipeline,
                       UNLABELED,
                       paths,
                       out,
                       shard_size=32,
                       batch_size=8,
                       progress=False, num_workers=0)
    assert stats['complete'] and stats['images_scored'] == 72
    scores = np.load(osp.join(out, 'scores.npy'))
    assert scores['index'].tolist() == list(range(72))
    assert np.all(scores['entropy'] > 0)
    assert np.all(scores['entropy'] <= math.log(7) + 1e-6)
    feats = np.load(osp.join(out, 'features.npy'))
    assert feats.shape == (72, 64) and feats.dtype == np.float16
    lines = _read(osp.join(out, 'scores.csv')).splitlines()
    assert lines[0] == 'path,entropy'
    assert [ln.split(',')[0] for ln in lines[1:]] == paths
    assert [float(ln.split(',')[1]) for ln in lines[1:]] == pytest.approx(
        scores['entropy'].tolist(), abs=1e-6)
    assert _read(osp.join(out, 'rejects.tsv')) == ''
    assert _read(osp.join(out, 'pool.txt')).splitlines() == paths


def _pool_with_bad_files(tmp_path):
    root = tmp_path / 'pool'
    src = sorted(os.listdir(osp.join(UNLABELED, 'aGrass')))[:4]
    os.makedirs(root / 'grass')
    for name in src:
        shutil.copy(osp.join(UNLABELED, 'aGrass', name), root / 'grass' / name)
    (root / 'broken.jpg').write_bytes(b'this is not a jpeg' * 10)
    (root / 'grass' / 'empty.png').write_bytes(b'')
    return str(root)


def test_corrupt_images_land_in_rejects(seg_demo_model, seg_demo_pipeline,
                                        tmp_path):
    root = _pool_with_bad_files(tmp_path)
    paths = list_pool(root)
    assert paths[0] == 'broken.jpg' and 'grass/empty.png' in paths
    out = str(tmp_path / 'skip')
    stats = score_pool(seg_demo_model,
                       seg_demo_pipeline,
                       root,
                       paths,
                       out,
                       shard_size=4,
                       batch_size=2,
                       progress=False, num_workers=0)
    assert stats['images_scored'] == 4 and stats['images_rejected'] == 2
    rejects = [ln.split('\t') for ln in
               _read(osp.join(out, 'rejects.tsv')).splitlines()]
    assert [r[0] for r in rejects] == ['broken.jpg', 'grass/empty.png']
    # the scoring pipeline reads with LoadImageChecked: the error names the
    # file and says it cannot be decoded
    assert rejects[0][1].startswith('s5_mm.datasets.transforms.'
                                    'load_image_checked.ImageDecodeError: '
                                    'cannot decode image ')
    assert 'broken.jpg (truncated, or not an image' in rejects[0][1]
    assert rejects[1][1] == 'ValueError: empty file (0 bytes)'
    scores = np.load(osp.join(out, 'scores.npy'))
    scored = [paths[i] for i in scores['index']]
    assert sorted(scored + [r[0] for r in rejects]) == sorted(paths)
    assert np.load(osp.join(out, 'features.npy')).shape == (4, 64)


def test_corrupt_image_stops_the_run_when_asked(seg_demo_model,
                                                seg_demo_pipeline, tmp_path):
    root = _pool_with_bad_files(tmp_path)
    out = str(tmp_path / 'stop')
    with pytest.raises(RuntimeError, match=r'cannot score .*broken\.jpg'):
        score_pool(seg_demo_model,
                   seg_demo_pipeline,
                   root,
                   list_pool(root),
                   out,
                   shard_size=4,
                   batch_size=2,
                   on_error='stop',
                   progress=False, num_workers=0)
    shard_rejects = _read(osp.join(out, 'shards', '000000.rejects.tsv'))
    assert shard_rejects.startswith('broken.jpg\t')
    assert not osp.exists(osp.join(out, 'shards', '000000.done.json'))


def test_score_batch_excludes_padding_and_pools_the_backbone(
        seg_demo_model, seg_demo_pipeline):
    # demo.jpg is 1024x1024 -> 64x64; dota_demo.jpg 1616x1565 -> 64x62, so
    # in one batch the second image gets 2 padded columns
    samples = [
        seg_demo_pipeline(
            dict(img_path=osp.join(UNLABELED, n),
                 seg_fields=[],
                 reduce_zero_label=False))
        for n in ('demo.jpg', 'dota_demo.jpg')
    ]
    assert samples[1]['inputs'].shape[-2:] == (62, 64) or \
        samples[1]['inputs'].shape[-2:] == (64, 62)
    recorder = FeatureRecorder(seg_demo_model, 'backbone', -1)
    try:
        ent, feat = score_batch(seg_demo_model, samples, recorder)
    finally:
        recorder.remove()
    with torch.no_grad():
        logits, valid = forward_batch(seg_demo_model, samples)
        h, w = samples[1]['inputs'].shape[-2:]
        assert valid[1].sum().item() == h * w and valid[0].all()
        p = torch.softmax(logits, 1).double().numpy()
        emap = -(p * np.log(p)).sum(1)
        assert ent[0] == pytest.approx(emap[0].mean(), rel=1e-5)
        assert ent[1] == pytest.approx(emap[1, :h, :w].mean(), rel=1e-5)
        assert abs(emap[1].mean() - emap[1, :h, :w].mean()) > 1e-6
        # feature of the unpadded image = global mean of the last ViT level
        batch = seg_demo_model.data_preprocessor(
            dict(inputs=[samples[0]['inputs']],
                 data_samples=[samples[0]['data_samples']]), False)['inputs']
        expected = seg_demo_model.backbone(batch)[-1].mean((2, 3))[0].numpy()
    np.testing.assert_allclose(feat[0].astype(np.float32), expected,
                               rtol=2e-3, atol=2e-3)


def test_unknown_feature_module_is_named(seg_demo_model):
    with pytest.raises(KeyError, match="feature module 'nope' not found"):
        FeatureRecorder(seg_demo_model, 'nope')
