"""A killed scoring run, resumed, ends with byte-identical outputs."""
import filecmp
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import numpy as np
from selection_utils import UNLABELED

from s5_mm.selection import list_pool, score_pool
import pytest

pytestmark = pytest.mark.xdist_group('seg_demo_scored')  # its session fixture

OUTPUTS = ('features.npy', 'scores.npy', 'scores.csv', 'rejects.tsv',
           'summary.json', 'pool.txt', 'meta.json')


def _same_outputs(a, b):
    for name in OUTPUTS:
        assert filecmp.cmp(osp.join(a, name), osp.join(b, name),
                           shallow=False), name


def test_interrupted_then_resumed_run_is_byte_identical(
        seg_demo_model, seg_demo_pipeline, tmp_path):
    paths = list_pool(UNLABELED)[:40]
    kw = dict(shard_size=8, batch_size=4, num_workers=0, progress=False)
    ref = str(tmp_path / 'ref')
    assert score_pool(seg_demo_model, seg_demo_pipeline, UNLABELED, paths, ref,
                      **kw)['complete']

    run = str(tmp_path / 'run')
    stats = score_pool(seg_demo_model,
                       seg_demo_pipeline,
                       UNLABELED,
                       paths,
                       run,
                       max_shards=2,
                       **kw)
    assert stats == dict(shards_scored=2,
                         images_scored=16,
                         images_rejected=0,
                         shards_left=3,
                         complete=False)
    assert not osp.exists(osp.join(run, 'features.npy'))
    # what a kill in the middle of shard 2 leaves behind: some of its files
    # (here a truncated one) without the done marker, and a temp file
    shards = osp.join(run, 'shards')
    with open(osp.join(shards, '000002.scores.npy'), 'wb') as f:
        f.write(b'\x93NUMPY half written')
    with open(osp.join(shards, '.000002.feat.npy.abc123.tmp'), 'wb') as f:
        f.write(b'garbage')
    done = sorted(os.listdir(shards))
    mtimes = {n: os.stat(osp.join(shards, n)).st_mtime_ns for n in done
              if n.startswith(('000000', '000001'))}

    stats = score_pool(seg_demo_model, seg_demo_pipeline, UNLABELED, paths,
                       run, **kw)
    assert stats['shards_scored'] == 3 and stats['complete']
    # finished shards were not redone
    for n, t in mtimes.items():
        assert os.stat(osp.join(shards, n)).st_mtime_ns == t, n
    _same_outputs(ref, run)
    for s in range(5):
        for ext in ('.scores.npy', '.feat.npy', '.rejects.tsv', '.done.json'):
            name = f'{s:06d}{ext}'
            assert filecmp.cmp(osp.join(ref, 'shards', name),
                               osp.join(shards, name), shallow=False), name


def test_resume_with_other_settings_is_refused(seg_demo_model,
                                               seg_demo_pipeline, tmp_path):
    paths = list_pool(UNLABELED)[:8]
    out = str(tmp_path / 'run')
    score_pool(seg_demo_model,
               seg_demo_pipeline,
               UNLABELED,
               paths,
               out,
               shard_size=8,
               progress=False, num_workers=0)
    try:
        score_pool(seg_demo_model,
                   seg_demo_pipeline,
                   UNLABELED,
                   paths,
                   out,
                   shard_size=4,
                   progress=False, num_workers=0)
    except ValueError as e:
        assert 'shard_size' in str(e) and 'use another work dir' in str(e)
    else:
        raise AssertionError('a resume with another shard size must fail')


def test_sigkilled_tool_resumed_is_byte_identical(seg_demo_scored, tmp_path,
                                                 monkeypatch):
    monkeypatch.syspath_prepend('tools')
    import select_data
    # the uninterrupted reference: the shared scored work dir (same args)
    ref, args = seg_demo_scored

    run = str(tmp_path / 'run')
    proc = subprocess.Popen(
        [sys.executable, 'tools/select_data.py', 'score', '--work-dir', run] +
        args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    marker = osp.join(run, 'unlabeled', 'shards', '000001.done.json')
    deadline = time.time() + 300
    while not osp.exists(marker) and proc.poll() is None and \
            time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert osp.exists(marker), 'the scorer died before finishing 2 shards'
    # killed mid-run: not all 9 shards are done, nothing merged yet
    shard_dir = osp.join(run, 'unlabeled', 'shards')
    n_done = sum(n.endswith('.done.json') for n in os.listdir(shard_dir))
    assert 2 <= n_done < 9
    assert not osp.exists(osp.join(run, 'unlabeled', 'features.npy'))

    select_data.main(['score', '--work-dir', run] + args)
    _same_outputs(osp.join(ref, 'unlabeled'), osp.join(run, 'unlabeled'))
    scores = np.load(osp.join(run, 'unlabeled', 'scores.npy'))
    assert len(scores) == 72
