"""`mim train s5_mm CONFIG` / `mim test s5_mm CONFIG --checkpoint CKPT`
(openmim 0.3.9) for the set-up's editable install and for a regular
(wheel) install. mim runs <installed s5_mm>/.mim/tools/{train,test}.py."""
import os
import os.path as osp
import shutil
import subprocess
import sys
import zipfile

import pytest

CONFIG = 'configs/demo/upernet_vit-tiny_1xb4-60iter_loveda-sample-64x64.py'
SHORT = ['--cfg-options', 'train_cfg.max_iters=2', 'train_cfg.val_interval=2',
         'default_hooks.checkpoint.interval=2']
MIM = osp.join(osp.dirname(sys.executable), 'mim')


def mim(args, cwd, env=None):
    proc = subprocess.run([MIM] + args, cwd=cwd, capture_output=True,
                          text=True, timeout=1500, env=env)
    return proc, proc.stdout + proc.stderr


@pytest.fixture(scope='module')
def trained(repo_root, tmp_path_factory):
    """`mim train` of the demo config (2 iterations, --amp) in the source
    tree."""
    work = str(tmp_path_factory.mktemp('mim_train'))
    proc, out = mim(['train', 's5_mm', CONFIG, '--work-dir', work, '--amp'] +
                    SHORT, repo_root)
    assert proc.returncode == 0, out[-4000:]
    return work, out


@pytest.mark.timeout(3000)  # three mim runs, each a fresh interpreter
def test_mim_train_and_test_editable(trained, repo_root):
    work, out = trained
    # mim ran this tree's tools/train.py (through s5_mm/.mim/tools)
    assert 'Training command is' in out
    script = out.split('Training command is')[1].split()[1]
    assert osp.realpath(script) == osp.join(repo_root, 'tools', 'train.py')
    # no GPU here: tools/train.py turned --amp off, in one warning line
    import torch
    if not torch.cuda.is_available():
        assert out.count('AMP is turned off') == 1
    ckpt = osp.join(work, 'iter_2.pth')
    assert osp.isfile(ckpt)
    proc, out = mim(['test', 's5_mm', CONFIG, '--checkpoint', ckpt,
                     '--work-dir', work], repo_root)
    assert proc.returncode == 0, out[-4000:]
    assert 'mIoU' in out


@pytest.mark.timeout(3000)
def test_mim_test_regular_install(trained, repo_root, tmp_path):
    """A wheel of s5_mm carries configs/ and tools/ under s5_mm/.mim; mim
    finds both there (the config by its name, from a folder without
    configs/)."""
    work, _ = trained
    src = tmp_path / 'src'
    for name in ('s5_mm', 'configs', 'tools', 'requirements'):
        shutil.copytree(osp.join(repo_root, name), src / name, symlinks=False,
                        ignore=shutil.ignore_patterns('__pycache__', '.mim'))
    for name in ('setup.py', 'README.md'):
        shutil.copy(osp.join(repo_root, name), src / name)
    wheels = tmp_path / 'wheels'
    proc = subprocess.run(
        [sys.executable, '-m', 'pip', 'wheel', '--no-deps',
         '--no-build-isolation', '-q', '-w', str(wheels), str(src)],
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    wheel = next(wheels.glob('s5_mm-*.whl'))
    names = zipfile.ZipFile(wheel).namelist()
    assert 's5_mm/.mim/tools/train.py' in names
    assert 's5_mm/.mim/tools/test.py' in names
    assert 's5_mm/.mim/' + CONFIG in names
    assert 's5_mm/.mim/configs/_base_/default_runtime.py' in names
    target = tmp_path / 'site'
    proc = subprocess.run(
        [sys.executable, '-m', 'pip', 'install', '--no-deps', '-q',
         '--target', str(target), str(wheel)],
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # the regular install comes first on the path; the data paths of the
    # demo config are relative to the repo, so the run starts there, but
    # with the config given by a name that only the package holds
    run_dir = tmp_path / 'run'
    os.makedirs(run_dir / 'tests', exist_ok=True)
    os.symlink(osp.join(repo_root, 'tests', 'data'), run_dir / 'tests' / 'data')
    env = dict(os.environ, PYTHONPATH=str(target))
    proc, out = mim(['test', 's5_mm', osp.basename(CONFIG), '--checkpoint',
                     osp.join(work, 'iter_2.pth'), '--work-dir',
                     str(tmp_path / 'w')], str(run_dir), env)
    assert proc.returncode == 0, out[-4000:]
    script = out.split('Testing command is')[1].split()[1]
    assert script == str(target / 's5_mm' / '.mim' / 'tools' / 'test.py')
    assert 'mIoU' in out
