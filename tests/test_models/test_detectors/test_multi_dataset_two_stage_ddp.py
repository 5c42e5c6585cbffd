"""2-process DDP (gloo, CPU, find_unused_parameters=False) where each rank
sees only one dataset: both ranks step, stay identical, and both datasets'
heads learn (gradients of the rank that saw the dataset are averaged in)."""
import json
from script_runner import run_script_ranks


def test_ddp_with_one_dataset_per_rank(repo_root, tmp_path):
    proc = run_script_ranks(['tests/utils/mdf_det_ddp_worker.py',
                             str(tmp_path)], nproc=2, cwd=repo_root,
                            timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    lines = []
    for rank in range(2):
        with open(tmp_path / f'rank{rank}.json') as f:
            lines.append(json.load(f))
    assert sorted(r['batch_dataset'] for r in lines) == ['dior', 'dota']
    for r in lines:
        assert r['rank_diff'] == 0.0  # the ranks hold the same weights
        assert r['moved']['dior'] > 0 and r['moved']['dota'] > 0
