"""tools/train.py and tools/test.py on shared, copied and damaged work dirs.

- a second run on a work dir a live run holds stops naming that process
  (both used to exit 0 into one folder); a lock left by a dead process is
  taken over;
- a copied or moved work dir resumes from its own checkpoints
  (``last_checkpoint`` holds the source's absolute path);
- a truncated checkpoint is an error naming the file for --resume PATH,
  load_from and tools/test.py (it was ``PytorchStreamReader failed``);
  --resume falls back to the newest intact checkpoint in one log line.
"""
import os
import os.path as osp
import shutil
import subprocess
import sys
import time

import pytest
from script_runner import REPO_ROOT, run_script

SEG_DEMO = 'configs/demo/upernet_vit-tiny_1xb4-60iter_loveda-sample-64x64.py'
TWO = ['train_cfg.max_iters=2', 'train_cfg.val_interval=100',
       'default_hooks.checkpoint.interval=1']


def _run(*args):
    proc = run_script(args, timeout=600)
    return proc.returncode, proc.stdout + proc.stderr


def _truncate(path):
    size = osp.getsize(path)
    with open(path, 'r+b') as f:
        f.truncate(size // 2)


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """A work dir after 2 iterations: iter_1.pth, iter_2.pth and
    last_checkpoint (an absolute path to iter_2.pth)."""
    work = tmp_path_factory.mktemp('runs') / 'src'
    code, out = _run('tools/train.py', SEG_DEMO, '--work-dir', str(work),
                     '--cfg-options', *TWO)
    assert code == 0, out[-3000:]
    assert (work / 'last_checkpoint').read_text().strip() == str(
        work / 'iter_2.pth')
    assert not (work / 'train.lock').exists()  # released at the end
    return work


def test_second_run_on_a_held_work_dir_stops_naming_the_holder(tmp_path):
    work = tmp_path / 'shared'
    env = dict(os.environ, PYTHONPATH=REPO_ROOT)
    holder = subprocess.Popen(
        [sys.executable, 'tools/train.py', SEG_DEMO, '--work-dir', str(work),
         '--cfg-options', 'train_cfg.max_iters=100000'],
        cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            if (work / 'train.lock').exists() or holder.poll() is not None:
                break
            time.sleep(0.5)
        assert holder.poll() is None, 'the first run ended early'
        code, out = _run('tools/train.py', SEG_DEMO, '--work-dir',
                         str(work), '--cfg-options', *TWO)
        assert code != 0
        assert 'WorkDirLockedError' in out
        assert f'is in use by process {holder.pid} on' in out
        assert str(work / 'train.lock') in out
        assert not (work / 'iter_1.pth').exists()
    finally:
        holder.kill()  # as a crash would: the lock stays behind
        holder.wait()
    assert (work / 'train.lock').exists()
    code, out = _run('tools/train.py', SEG_DEMO, '--work-dir', str(work),
                     '--cfg-options', *TWO)
    assert code == 0, out[-3000:]
    assert out.count(f'took over the lock of process {holder.pid}') == 1
    assert (work / 'iter_2.pth').exists()
    assert not (work / 'train.lock').exists()


@pytest.mark.parametrize('how', ['copy', 'move'])
def test_copied_or_moved_work_dir_resumes_from_its_own(trained, tmp_path,
                                                      how):
    src = tmp_path / 'src'
    shutil.copytree(trained, src)
    # as mmengine wrote it had the run been in src
    (src / 'last_checkpoint').write_text(str(src / 'iter_2.pth'))
    dst = tmp_path / 'dst'
    if how == 'copy':
        shutil.copytree(src, dst)
        # the source's checkpoint is damaged: loading it would fail
        _truncate(src / 'iter_2.pth')
    else:
        shutil.move(src, dst)
    assert str(src / 'iter_2.pth') in (dst / 'last_checkpoint').read_text()
    code, out = _run('tools/train.py', SEG_DEMO, '--work-dir', str(dst),
                     '--resume', '--cfg-options', 'train_cfg.max_iters=3',
                     'train_cfg.val_interval=100',
                     'default_hooks.checkpoint.interval=1')
    assert code == 0, out[-3000:]
    assert f'Load checkpoint from {dst / "iter_2.pth"}' in out
    assert 'resumed epoch: 0, iter: 2' in out
    assert str(src) not in out.replace(str(dst), '')
    assert (dst / 'iter_3.pth').exists()


def test_truncated_checkpoint_is_named(trained, tmp_path):
    work = tmp_path / 'w'
    shutil.copytree(trained, work)
    bad = work / 'iter_2.pth'
    _truncate(bad)
    for args in (['--resume', str(bad)],
                 ['--cfg-options', f'load_from={bad}']):
        code, out = _run('tools/train.py', SEG_DEMO, '--work-dir',
                         str(tmp_path / 'other'), *args)
        assert code != 0
        what = '--resume' if args[0] == '--resume' else 'load_from'
        assert f'CheckpointReadError: {what} {bad} is not a readable ' \
            'checkpoint' in out
        assert 'PytorchStreamReader' not in out.split('CheckpointReadError')[0]
    code, out = _run('tools/test.py', SEG_DEMO, str(bad), '--work-dir',
                     str(tmp_path / 'test'))
    assert code != 0
    assert f'checkpoint {bad} is not a readable checkpoint' in out


def test_auto_resume_falls_back_to_the_newest_intact_one(trained, tmp_path):
    work = tmp_path / 'w'
    shutil.copytree(trained, work)
    _truncate(work / 'iter_2.pth')
    code, out = _run('tools/train.py', SEG_DEMO, '--work-dir', str(work),
                     '--resume', '--cfg-options', *TWO)
    assert code == 0, out[-3000:]
    said = [line for line in out.splitlines() if 'the newest intact' in line]
    assert len(said) == 1
    assert f'skipped {work / "iter_2.pth"}' in said[0]
    assert f'resuming from {work / "iter_1.pth"}' in said[0]
    assert 'resumed epoch: 0, iter: 1' in out
    # the training re-wrote iter_2 whole
    code, out = _run('tools/test.py', SEG_DEMO, str(work / 'iter_2.pth'),
                     '--work-dir', str(tmp_path / 'test'))
    assert code == 0, out[-3000:]
