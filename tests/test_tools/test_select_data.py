"""tools/select_data.py end to end, and the hook giving the same split."""
import csv
import filecmp
import json
import os
import os.path as osp
import shutil
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.runner import Runner
from selection_utils import LABELED, UNLABELED, small_cfg, tool_cfg_file

from s5_mm.selection import list_pool

pytestmark = pytest.mark.xdist_group('seg_demo_scored')  # its session fixture


@pytest.fixture
def select_data(monkeypatch):
    monkeypatch.syspath_prepend('tools')
    import select_data
    return select_data


def _rows(path):
    with open(path, encoding='utf-8', newline='') as f:
        return list(csv.DictReader(f))


def test_tool_all_writes_split_scores_and_report(select_data,
                                                 seg_demo_checkpoint,
                                                 tmp_path):
    work = str(tmp_path / 'w')
    split = str(tmp_path / 'unlabeled_split.txt')
    select_data.main([
        'all',
        tool_cfg_file(tmp_path), seg_demo_checkpoint, '--work-dir', work,
        '--pool-root', UNLABELED, '--labeled-root', LABELED, '--shard-size',
        '16', '--num-workers', '0', '--num-clusters', '3', '--budget', '20',
        '--quota-mode', 'equal', '--split-file', split
    ])
    sel = osp.join(work, 'selection')
    with open(split, encoding='utf-8') as f:
        lines = f.read().splitlines()
    with open(osp.join(sel, 'split.txt'), encoding='utf-8') as f:
        assert f.read().splitlines() == lines
    assert len(lines) == 20 and len(set(lines)) == 20
    assert all(osp.isfile(osp.join(UNLABELED, p)) for p in lines)

    rows = _rows(osp.join(sel, 'selection.csv'))
    assert len(rows) == 72
    assert sorted(r['path'] for r in rows if r['selected'] == '1') == \
        sorted(lines)
    summary = json.load(open(osp.join(sel, 'selection.json')))
    # equal quotas: 20 / 3 -> [7, 7, 6], then redistribution if a cluster
    # is short; fill sums to the budget
    assert summary['quota'] == [7, 7, 6]
    assert sum(summary['fill']) == 20
    for c in range(3):
        members = [r for r in rows if int(r['cluster']) == c]
        chosen = [float(r['entropy']) for r in members if r['selected'] == '1']
        others = [float(r['entropy']) for r in members if r['selected'] == '0']
        assert len(chosen) == summary['fill'][c]
        assert len(members) == summary['available'][c]
        # low entropy first inside every cluster
        if chosen and others:
            assert max(chosen) <= min(others)
    clusters = json.load(open(osp.join(work, 'clusters', 'clusters.json')))
    assert clusters['unlabeled_sizes'] == summary['available']
    assert sum(clusters['labeled_sizes']) == 3  # three LoveDA crops
    png = open(osp.join(sel, 'report.png'), 'rb').read()
    assert png[:8] == b'\x89PNG\r\n\x1a\n' and len(png) > 10000


def test_select_step_alone_gives_the_same_split(select_data, seg_demo_scored,
                                                tmp_path):
    work = str(tmp_path / 'w')
    shutil.copytree(seg_demo_scored[0], work)  # scored by the score step
    common = ['--work-dir', work]
    select_data.main(['cluster', '--num-clusters', '2'] + common)
    select_data.main(['select', '--budget', '30'] + common)
    first = open(osp.join(work, 'selection', 'split.txt'), 'rb').read()
    select_data.main(['cluster', '--num-clusters', '2'] + common)
    select_data.main(['select', '--budget', '30'] + common)
    assert open(osp.join(work, 'selection', 'split.txt'), 'rb').read() == first
    assert len(first.decode().splitlines()) == 30


def test_hook_in_training_writes_the_tools_split(select_data, tmp_path):
    cfg = small_cfg()
    cfg.work_dir = str(tmp_path / 'train')
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=2,
                         val_interval=100)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=False,
                                        interval=2)
    cfg.default_hooks.visualization = dict(type='SegVisualizationHook')
    cfg.param_scheduler = []
    split = str(tmp_path / 'from_hook.txt')
    # every 4th scene of the pool, through a list file (speed)
    pool_list = str(tmp_path / 'pool_list.txt')
    with open(pool_list, 'w', encoding='utf-8') as f:
        f.write('\n'.join(list_pool(UNLABELED)[::4]) + '\n')
    cfg.custom_hooks = [
        dict(type='EntropyDiversitySelectorHook', pool_root=UNLABELED,
             pool_list=pool_list, labeled_root=LABELED, budget=10,
             num_clusters=2, split_file=split, interval=1,
             settings=dict(shard_size=8, batch_size=4, num_workers=0))
    ]
    cfg.val_dataloader = cfg.val_evaluator = cfg.val_cfg = None
    runner = Runner.from_cfg(cfg)
    runner.train()
    # selected after iteration 1 and 2 (interval=1); after_train does not
    # repeat iteration 2; the extra split file holds the last selection
    assert sorted(os.listdir(osp.join(cfg.work_dir, 'selection'))) == [
        'iter_1', 'iter_2'
    ]
    hook_dir = osp.join(cfg.work_dir, 'selection', 'iter_2')
    first = np.load(osp.join(cfg.work_dir, 'selection', 'iter_1',
                             'unlabeled', 'scores.npy'))
    # the model changed between the two selections
    assert not np.array_equal(
        first, np.load(osp.join(hook_dir, 'unlabeled', 'scores.npy')))
    assert open(split, 'rb').read() == open(
        osp.join(hook_dir, 'selection', 'split.txt'), 'rb').read()
    chosen = open(split).read().splitlines()
    assert len(chosen) == 10
    assert set(chosen) <= set(list_pool(UNLABELED)[::4])

    # the tool, run on the checkpoint the same training saved, selects the
    # same images in the same order
    work = str(tmp_path / 'tool')
    select_data.main([
        'all', tool_cfg_file(tmp_path),
        osp.join(cfg.work_dir, 'iter_2.pth'), '--work-dir', work,
        '--pool-root', UNLABELED, '--pool-list', pool_list,
        '--labeled-root', LABELED, '--shard-size', '8', '--batch-size', '4',
        '--num-workers', '0', '--num-clusters', '2', '--budget', '10'
    ])
    assert open(osp.join(work, 'selection', 'split.txt'), 'rb').read() == \
        open(split, 'rb').read()
    np.testing.assert_array_equal(
        np.load(osp.join(work, 'unlabeled', 'scores.npy')),
        np.load(osp.join(hook_dir, 'unlabeled', 'scores.npy')))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_two_ranks_give_the_same_bytes_as_one(select_data, seg_demo_checkpoint,
                                              tmp_path):
    """tools/dist_select.sh (torchrun, 2 CPU ranks over gloo) shards the
    scoring; every output equals a single-process run's (one thread each,
    as torchrun sets OMP_NUM_THREADS=1)."""
    args = [
        tool_cfg_file(tmp_path), seg_demo_checkpoint, '--pool-root', UNLABELED,
        '--labeled-root', LABELED, '--shard-size', '10', '--num-workers', '0',
        '--num-clusters', '3', '--budget', '20'
    ]
    two = str(tmp_path / 'two')
    proc = subprocess.run(
        ['bash', 'tools/dist_select.sh', 'all', '2'] + args +
        ['--work-dir', two],
        env=dict(os.environ, PORT=str(_free_port()), PYTHON=sys.executable),
        capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    one = str(tmp_path / 'one')
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        select_data.main(['all'] + args + ['--work-dir', one])
    finally:
        torch.set_num_threads(threads)
    names = [
        'unlabeled/features.npy', 'unlabeled/scores.npy',
        'unlabeled/scores.csv', 'labeled/features.npy',
        'clusters/unlabeled_cluster.npy', 'selection/split.txt',
        'selection/selection.csv', 'selection/report.png'
    ]
    for name in names:
        assert filecmp.cmp(osp.join(one, name), osp.join(two, name),
                           shallow=False), name
    # 72 images in shards of 10: rank 0 scored shards 0, 2, 4, 6; rank 1
    # shards 1, 3, 5, 7 (both logged their share)
    assert "'images_scored': 40" in proc.stdout + proc.stderr
    assert "'images_scored': 32" in proc.stdout + proc.stderr
