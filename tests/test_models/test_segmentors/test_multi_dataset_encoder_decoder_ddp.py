"""2-process DDP (gloo, CPU, find_unused_parameters=False) of a tiny
MoE-MDF config gives the same parameters as one process with the same
global batch, and runs the per-dataset validation in both."""
import glob
import json
import os.path as osp

import torch
from mmengine.runner import Runner

import s5_mm  # noqa: F401
from mdf_seg_utils import make_openearthmap, tiny_cfg
from script_runner import run_script_ranks

ITERS = 3


def deterministic_cfg(oem, work_dir, per_rank):
    """No random augmentation (ranks and the single process have different
    random states) and `per_rank` crops of each dataset per batch."""
    cfg = tiny_cfg(oem, work_dir=work_dir, max_iters=ITERS)
    for ds in cfg.train_dataloader.dataset.datasets:
        ds.pipeline = [t for t in ds.pipeline if not t['type'].startswith(
            'Random')]
    cfg.train_dataloader.batch_size = 4 * per_rank
    cfg.train_dataloader.sampler.batch_size = 4 * per_rank
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', by_epoch=False, interval=ITERS)
    cfg.default_hooks.visualization = dict(type='SegVisualizationHook')
    # a visualizer of its own: mmengine reuses an instance of the same name
    # (with an earlier test's save_dir) within one process
    cfg.visualizer = dict(cfg.get('visualizer', {}),
                          name=f'mdf_ddp_vis_{osp.basename(work_dir)}_'
                          f'{per_rank}_{id(cfg)}')
    return cfg


def last_val_metrics(work_dir):
    scalars = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    assert len(scalars) == 1, scalars
    with open(scalars[0]) as f:
        lines = [json.loads(line) for line in f]
    return [line for line in lines if 'mean' in line][-1]


def run_ddp(cfg, cfg_path, repo_root):
    cfg.dump(cfg_path)
    return run_script_ranks(['tests/utils/runner_ddp_worker.py', cfg_path],
                            nproc=2, cwd=repo_root, timeout=600)


def test_ddp_equals_single_process(tmp_path, repo_root):
    oem = make_openearthmap(str(tmp_path / 'oem'), num=3)
    # DDP: 2 ranks x 1 crop per dataset
    ddp_dir = str(tmp_path / 'ddp')
    proc = run_ddp(deterministic_cfg(oem, ddp_dir, per_rank=1),
                   str(tmp_path / 'ddp_cfg.py'), repo_root)
    assert proc.returncode == 0, proc.stderr[-4000:]
    # one process, 2 crops per dataset: the same global batch
    single_dir = str(tmp_path / 'single')
    runner = Runner.from_cfg(deterministic_cfg(oem, single_dir, per_rank=2))
    runner.train()

    ddp = torch.load(osp.join(ddp_dir, f'iter_{ITERS}.pth'),
                     map_location='cpu', weights_only=True)['state_dict']
    single = torch.load(osp.join(single_dir, f'iter_{ITERS}.pth'),
                        map_location='cpu', weights_only=True)['state_dict']
    assert ddp.keys() == single.keys()
    diffs = {key: float((ddp[key].float() - value.float()).abs().max())
             for key, value in single.items() if value.numel()}
    worst = sorted(diffs.items(), key=lambda kv: -kv[1])[:5]
    # float summation order differs; AdamW (lr 1e-3) scales gradient noise
    # of near-zero gradients (e.g. the key bias) up to lr-sized steps, so
    # the tolerance is a tenth of one step
    assert worst[0][1] < 1e-4, worst
    # training moved the weights (this is not a comparison of two inits)
    fresh = Runner.from_cfg(deterministic_cfg(oem, str(tmp_path / 'fresh'),
                                              per_rank=2))
    fresh.model.init_weights()
    init = fresh.model.state_dict()
    for key in ('backbone.layers.0.ffn.experts.3.weight',
                'decode_heads.loveda.conv_seg.weight'):
        assert (single[key] - init[key]).abs().max() > 1e-5, key
    # both ran the per-dataset validation and agree on it
    m_ddp, m_single = last_val_metrics(ddp_dir), last_val_metrics(single_dir)
    for key in ('vaihingen/mIoU', 'potsdam/mFscore', 'loveda/mIoU',
                'openearthmap/mIoU', 'mean'):
        assert abs(m_ddp[key] - m_single[key]) < 0.1, key


def test_ddp_with_a_dataset_absent_from_every_batch(tmp_path, repo_root):
    """openearthmap is not in the training data: its head and expert get no
    real gradient, yet DDP (find_unused_parameters=False) trains, thanks to
    the zero-weighted term of absent datasets. With weight decay 0, the
    absent dataset's head and expert end exactly as they started while the
    others move. (mmdet's MultiSourceSampler loops forever on a source with
    0 samples per batch, so the dataset is left out of the ConcatDataset
    rather than given ratio 0.)"""
    oem = make_openearthmap(str(tmp_path / 'oem'), num=2)
    cfg = deterministic_cfg(oem, str(tmp_path / 'work'), per_rank=1)
    loader = cfg.train_dataloader
    loader.dataset.datasets = loader.dataset.datasets[:3]
    loader.batch_size = loader.sampler.batch_size = 3
    loader.sampler.source_ratio = [1, 1, 1]
    cfg.train_cfg.val_interval = 100  # no validation needed here
    cfg.optim_wrapper.optimizer.weight_decay = 0.0
    # start from known weights: a fresh model, saved
    init_dir = str(tmp_path / 'init')
    fresh = Runner.from_cfg(deterministic_cfg(oem, init_dir, per_rank=1))
    fresh.model.init_weights()
    init = {k: v.clone() for k, v in fresh.model.state_dict().items()}
    torch.save({'state_dict': init, 'meta': {}}, str(tmp_path / 'init.pth'))
    cfg.load_from = str(tmp_path / 'init.pth')
    proc = run_ddp(cfg, str(tmp_path / 'cfg.py'), repo_root)
    assert proc.returncode == 0, proc.stderr[-4000:]
    state = torch.load(osp.join(str(tmp_path / 'work'), f'iter_{ITERS}.pth'),
                       map_location='cpu', weights_only=True)['state_dict']
    assert 'decode_heads.openearthmap.conv_seg.weight' in state
    assert state.keys() == init.keys()
    oem_id = cfg.model.backbone.dataset_names.index('openearthmap')

    def moved(key):
        return float((state[key].float() - init[key].float()).abs().max())

    absent = [k for k in state if k.startswith('decode_heads.openearthmap.')
              or f'.experts.{oem_id}.' in k]
    assert absent and {k: moved(k) for k in absent
                       if moved(k) > 0} == {}
    present = ['decode_heads.vaihingen.conv_seg.weight',
               'backbone.layers.0.ffn.layers.1.weight'] + [
                   k for k in state if '.experts.0.' in k]
    assert min(moved(k) for k in present) > 0, present
