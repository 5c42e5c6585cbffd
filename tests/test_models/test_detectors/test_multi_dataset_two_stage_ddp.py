"""2-process DDP (gloo, CPU, find_unused_parameters=False) where each rank
sees only one dataset: both ranks step, stay identical, and both datasets'
heads learn (gradients of the rank that saw the dataset are averaged in)."""
import json
import os
import os.path as osp
import socket
import subprocess
import sys


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_ddp_with_one_dataset_per_rank(repo_root, tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=repo_root)
    proc = subprocess.run(
        [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2',
         f'--master_port={_free_port()}',
         'tests/utils/mdf_det_ddp_worker.py', str(tmp_path)],
        cwd=repo_root, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    lines = []
    for rank in range(2):
        with open(tmp_path / f'rank{rank}.json') as f:
            lines.append(json.load(f))
    assert sorted(r['batch_dataset'] for r in lines) == ['dior', 'dota']
    for r in lines:
        assert r['rank_diff'] == 0.0  # the ranks hold the same weights
        assert r['moved']['dior'] > 0 and r['moved']['dota'] > 0
