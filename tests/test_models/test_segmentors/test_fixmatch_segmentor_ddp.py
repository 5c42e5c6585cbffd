"""FixMatch under 2-process CPU DDP (gloo, find_unused_parameters=False):
every parameter of the student gets a gradient on both ranks, the EMA teacher
stays out of the graph, and each rank draws its own 2 + 2 batches (the
sample paths each rank dumps: the unlabeled ones disjoint, the labeled ones
the two halves of one stream of permutations); with class weights on, the
class statistics are all-reduced (the same on both ranks although DDP does
not broadcast buffers)."""
import json
import os.path as osp
from glob import glob

import pytest
import torch

from s4p_utils import DEMO_CFG
from script_runner import run_script_ranks

# the MDF tests' rank script: creates the gloo group, DDP with device_ids=None
WORKER = 'tests/utils/runner_ddp_worker.py'


def test_fixmatch_trains_under_ddp(tmp_path, repo_root):
    work_dir = tmp_path / 'work'
    cfg = tmp_path / 'ddp.py'
    cfg.write_text(f"""_base_ = ['{osp.join(repo_root, DEMO_CFG)}']
work_dir = '{work_dir}'
model = dict(semi_train_cfg=dict(teacher='ema', conf_thr=0.0,
                                 class_weight_power=0.5))
custom_imports = dict(imports=['class_stats_dump_hook',
                               'sample_paths_dump_hook'],
                      allow_failed_imports=False)
custom_hooks = [dict(type='EMATeacherHook'), dict(type='ClassStatsDumpHook'),
                dict(type='SamplePathsDumpHook')]
train_cfg = dict(max_iters=3, val_interval=3)
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval=3))
log_processor = dict(window_size=1)
""")
    proc = run_script_ranks([WORKER, str(cfg)], nproc=2, cwd=repo_root,
                            timeout=800)
    errors = [ln for ln in proc.stderr.splitlines() if 'Error' in ln]
    assert proc.returncode == 0, '\n'.join(errors[:20]) + proc.stderr[-2000:]
    ckpt = torch.load(work_dir / 'iter_3.pth', map_location='cpu',
                      weights_only=True)
    assert ckpt['meta']['iter'] == 3
    state = ckpt['state_dict']
    # the EMA hook moved the teacher towards the trained student
    key = 'backbone.patch_embed.projection.weight'
    assert not torch.equal(state['teacher.' + key], state['student.' + key])
    (scalars, ) = glob(str(work_dir / '*' / 'vis_data' / 'scalars.json'))
    with open(scalars) as f:
        logs = [json.loads(line) for line in f if '"loss"' in line]
    assert [r['step'] for r in logs] == [1, 2, 3]
    assert all(r['unsup_loss_seg'] > 0 for r in logs)
    # class weights: logged, and the statistics of 3 all-reduced updates are
    # the same on both ranks (the worker sets broadcast_buffers=False)
    assert all(r['unsup_w_cls0'] > 0 for r in logs)
    ranks = [torch.load(work_dir / f'class_stats_rank{r}.pt',
                        weights_only=True) for r in (0, 1)]
    assert ranks[0]['steps'].item() == ranks[1]['steps'].item() == 3
    assert torch.equal(ranks[0]['ema'], ranks[1]['ema'])
    assert torch.equal(state['class_stats.ema'], ranks[0]['ema'])
    freq = ranks[0]['ema'] / (1 - 0.999**3)
    assert freq.sum().item() == pytest.approx(1.0, rel=1e-9)
    # each rank draws its own batches: 2 labeled + 2 unlabeled per batch
    drawn = []
    for r in (0, 1):
        with open(work_dir / f'sample_paths_rank{r}.json') as f:
            drawn.append(json.load(f))
    for paths in drawn:
        assert [len(b) for b in paths['sup']] == [2, 2, 2]
        assert [len(b) for b in paths['unsup_teacher']] == [2, 2, 2]
    unlabeled = [sum(d['unsup_teacher'], []) for d in drawn]
    assert len(set(unlabeled[0] + unlabeled[1])) == 12  # 72 images: disjoint
    assert all(p.startswith('tests/data/unlabeled/') for p in unlabeled[0])
    # 3 labeled crops: the ranks take turns in one stream of shuffled epochs,
    # so every 3 consecutive draws of the interleaved stream are the 3 crops
    labeled = [sum(d['sup'], []) for d in drawn]
    stream = [p for pair in zip(*labeled) for p in pair]
    crops = set(stream)
    assert len(crops) == 3
    for i in range(0, len(stream), 3):
        assert set(stream[i:i + 3]) == crops, stream
