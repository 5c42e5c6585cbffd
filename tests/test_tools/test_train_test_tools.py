"""tools/train.py on the shipped demo config: trains, checkpoints, resumes."""
import os.path as osp
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image
from script_runner import run_script

CONFIG = 'configs/demo/upernet_vit-tiny_1xb4-60iter_loveda-sample-64x64.py'
LOVEDA = 'tests/data/loveda'
OPTS = [
    'train_cfg.max_iters=4', 'train_cfg.val_interval=4',
    'default_hooks.checkpoint.interval=2', 'default_hooks.checkpoint.max_keep_ckpts=3',
    'default_hooks.logger.interval=1',
    # dropout draws from torch's global RNG, which a resumed process cannot
    # replay; without it the resumed run must match the uninterrupted one.
    'model.decode_head.dropout_ratio=0.0',
]


def _train(work_dir, *extra):
    cmd = ['tools/train.py', CONFIG, '--work-dir', str(work_dir),
           '--cfg-options', *OPTS, *extra]
    proc = run_script(cmd, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def _load(path):
    import s5_mm  # noqa: F401  (safe loader accepts mmengine checkpoints)
    return torch.load(path, map_location='cpu', weights_only=True)


@pytest.fixture(scope='module')
def full_run(tmp_path_factory):
    """One uninterrupted 4-iteration tools/train.py run: (work dir, log)."""
    full = tmp_path_factory.mktemp('full')
    return full, _train(full)


def test_train_checkpoint_and_resume(full_run, tmp_path):
    (full, log), resumed = full_run, tmp_path / 'resumed'
    assert 'mIoU' in log  # evaluated at the end
    for it in (2, 4):
        assert osp.isfile(full / f'iter_{it}.pth')
    ckpt2 = _load(full / 'iter_2.pth')
    ckpt4 = _load(full / 'iter_4.pth')
    assert ckpt2['meta']['iter'] == 2 and ckpt4['meta']['iter'] == 4

    log = _train(resumed, '--resume', str(full / 'iter_2.pth'))
    # mmengine's own line once the checkpoint's state is loaded (the log
    # also echoes the --resume argument, so 'resume' alone proves nothing)
    assert re.search(r'resumed epoch: \d+, iter: 2\n', log), log[-3000:]
    # the resumed run did only iterations 3 and 4
    assert 'Iter(train) [1/4]' not in log and 'Iter(train) [3/4]' in log
    res4 = _load(resumed / 'iter_4.pth')
    assert res4['meta']['iter'] == 4
    # optimizer state continued from iter 2: AdamW's step counters read 4
    steps = [s['step'].item() for s in res4['optimizer']['state'].values()]
    assert steps and all(s == 4 for s in steps)
    # same parameters and optimizer moments as the uninterrupted run
    for key, value in ckpt4['state_dict'].items():
        torch.testing.assert_close(res4['state_dict'][key], value, atol=1e-6, rtol=1e-5,
                                   msg=f'parameter {key} differs after resume')
    for idx, state in ckpt4['optimizer']['state'].items():
        torch.testing.assert_close(res4['optimizer']['state'][idx]['exp_avg'], state['exp_avg'],
                                   atol=1e-7, rtol=1e-5)


def test_test_tool_reports_metric(full_run, tmp_path):
    work = full_run[0]
    proc = run_script(
        ['tools/test.py', CONFIG, str(work / 'iter_4.pth'),
         '--work-dir', str(tmp_path / 'test')], timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    m = re.search(r'mIoU: ([0-9.]+)', proc.stdout + proc.stderr)
    assert m is not None and 0.0 <= float(m.group(1)) <= 100.0
    # mmseg rounds to 2 decimals
    assert float(m.group(1)) == pytest.approx(
        100 * hand_miou(work / 'iter_4.pth'), abs=0.005 + 1e-6)


def hand_miou(ckpt) -> float:
    """mIoU of the checkpoint on the 3 bundled LoveDA crops, computed here:
    mmseg's init_model / inference_model (image resized to 128 px as the
    config's test pipeline does, prediction at the label's size), labels
    read from the PNGs with LoveDA's reduce_zero_label (0 -> ignored,
    k -> k - 1), per-class IoU summed over the crops, mean over the
    classes present in the labels or the predictions."""
    from mmseg.apis import inference_model, init_model
    model = init_model(CONFIG, str(ckpt), device='cpu')
    model.cfg.test_pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='Resize', scale=(128, 128), keep_ratio=True),
        dict(type='PackSegInputs')]
    classes = 7
    inter, union = np.zeros(classes), np.zeros(classes)
    for i in range(3):
        pred = inference_model(model, f'{LOVEDA}/img_dir/{i}.png')
        pred = pred.pred_sem_seg.data[0].numpy()
        label = np.asarray(Image.open(f'{LOVEDA}/ann_dir/{i}.png'),
                           np.int64) - 1
        assert label.shape == pred.shape
        valid = (label >= 0) & (label < classes)
        for k in range(classes):
            p, g = (pred == k) & valid, (label == k) & valid
            inter[k] += (p & g).sum()
            union[k] += (p | g).sum()
    present = union > 0
    assert present.any()
    return float((inter[present] / union[present]).mean())


def test_train_tool_errors_on_missing_config(tmp_path):
    proc = run_script(['tools/train.py', 'configs/nope.py'], timeout=300)
    assert proc.returncode != 0 and 'config file not found: configs/nope.py' in proc.stderr


def test_dist_train_script_runs_two_cpu_ranks(tmp_path):
    """tools/dist_train.sh with 2 processes on a CPU-only machine (gloo)."""
    import os
    import socket
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    env = dict(os.environ, PORT=str(port), PYTHON=sys.executable)
    proc = subprocess.run(
        ['bash', 'tools/dist_train.sh', CONFIG, '2', '--work-dir', str(tmp_path),
         '--cfg-options', *OPTS], capture_output=True, text=True, timeout=600, env=env)
    out = proc.stdout + proc.stderr
    errors = [line for line in out.splitlines() if 'Error' in line]
    assert proc.returncode == 0, '\n'.join(errors[-20:]) or out[-4000:]
    assert 'Distributed training: True' in out
    assert 'Iter(train) [4/4]' in out and 'mIoU' in out
    ckpt = _load(tmp_path / 'iter_4.pth')
    assert ckpt['meta']['iter'] == 4
