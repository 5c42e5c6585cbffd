"""tools/setup_env.sh --print-mmcv-build: the mmcv build command it forms,
with CUDA ops when nvcc is found (a fake nvcc on PATH; nothing is built);
--check-disk: the free-disk check that runs before anything is installed."""
import os
import os.path as osp
import shutil
import subprocess
import sys

import torch

SCRIPT = 'tools/setup_env.sh'


def formed(env_extra, tmp_path):
    venv = osp.dirname(osp.dirname(sys.executable))
    env = dict(os.environ, S5_MM_VENV=venv, MAX_JOBS='3',
               S5_MM_WHEEL_CACHE=str(tmp_path / 'cache'))
    env.pop('TORCH_CUDA_ARCH_LIST', None)
    env.update(env_extra)
    proc = subprocess.run(['bash', SCRIPT, '--print-mmcv-build'], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    return lines[-2].split(), lines[-1], proc.stdout


def fake_nvcc(tmp_path, release='12.1'):
    bin_dir = tmp_path / 'cuda' / 'bin'
    bin_dir.mkdir(parents=True)
    nvcc = bin_dir / 'nvcc'
    nvcc.write_text('#!/bin/sh\necho "nvcc: NVIDIA (R) Cuda compiler driver"\n'
                    f'echo "Cuda compilation tools, release {release}, '
                    f'V{release}.105"\n')
    nvcc.chmod(0o755)
    return str(bin_dir)


def no_nvcc_path():
    return os.pathsep.join(
        p for p in os.environ['PATH'].split(os.pathsep)
        if not osp.exists(osp.join(p, 'nvcc')))


def test_cpu_build_without_nvcc(tmp_path):
    words, cache, _ = formed(dict(PATH=no_nvcc_path(), CUDA_HOME=''),
                             tmp_path)
    assert words[0] == 'env'
    assert 'FORCE_CUDA=0' in words and 'MMCV_WITH_OPS=1' in words
    assert 'MAX_JOBS=3' in words
    assert not any(w.startswith('TORCH_CUDA_ARCH_LIST') for w in words)
    assert words[-1] == 'mmcv==2.1.0'
    assert cache == 'wheel cache: ' + str(
        tmp_path / 'cache' / ('torch-' + torch.__version__.replace('+', '_')))


def test_cuda_build_with_nvcc(tmp_path):
    bin_dir = fake_nvcc(tmp_path, '12.1')
    path = bin_dir + os.pathsep + no_nvcc_path()
    if not torch.cuda.is_available():
        # nvcc but no GPU (a CPU machine with a CUDA toolkit): CPU ops
        words, _, out = formed(dict(PATH=path), tmp_path)
        assert 'FORCE_CUDA=0' in words and 'no GPU visible' in out
    # S5_MM_MMCV_CUDA=1 (e.g. a GPU-less build node) or a visible GPU
    words, cache, out = formed(dict(PATH=path, S5_MM_MMCV_CUDA='1'),
                               tmp_path)
    if torch.version.cuda is None:  # a CPU torch: CPU ops, said so
        assert 'FORCE_CUDA=0' in words and 'torch is a CPU build' in out
        return
    assert 'FORCE_CUDA=1' in words and 'FORCE_CUDA=0' not in words
    assert f'CUDA_HOME={osp.dirname(bin_dir)}' in words
    archs = [w for w in words if w.startswith('TORCH_CUDA_ARCH_LIST=')]
    if not torch.cuda.is_available():  # the list for nvcc 12
        assert archs == ['TORCH_CUDA_ARCH_LIST=7.0;7.5;8.0;8.6;8.9;9.0+PTX']
    assert cache.endswith('-cuda12.1')
    if torch.version.cuda.split('.')[0] != '12':
        assert 'differ in the major version' in out
    assert '--no-cache-dir' in words  # never a CPU wheel from pip's cache


def check_disk(env_extra):
    venv = osp.dirname(osp.dirname(sys.executable))
    env = dict(os.environ, S5_MM_VENV=venv)
    env.pop('S5_MM_MIN_FREE_MB', None)
    env.update(env_extra)
    return venv, subprocess.run(['bash', SCRIPT, '--check-disk'], env=env,
                                capture_output=True, text=True, timeout=120)


def test_disk_check_stops_before_installing_on_a_full_disk():
    venv, proc = check_disk(dict(S5_MM_MIN_FREE_MB=str(10**12)))
    assert proc.returncode == 1
    assert f'not enough free disk for the venv at {venv}' in proc.stderr
    free_mb = int(proc.stderr.split(': ')[1].split(' MB free')[0])
    real_mb = shutil.disk_usage(venv).free // 2**20
    assert abs(free_mb - real_mb) < 1024  # df's figure, in MB
    assert 'S5_MM_MIN_FREE_MB=0 skips this check' in proc.stderr


def test_disk_check_needs_less_once_torch_is_installed():
    venv, proc = check_disk({})
    assert proc.returncode == 0, proc.stderr
    tmp = os.environ.get('TMPDIR', '/tmp')
    same_fs = os.stat(venv).st_dev == os.stat(tmp).st_dev
    # torch + torchvision import in this venv: 2000 MB (+ 500 for pip's
    # downloads when they go to the same disk)
    assert f'about {2500 if same_fs else 2000} MB needed' in proc.stdout
    _, proc = check_disk(dict(S5_MM_MIN_FREE_MB='0'))
    assert proc.returncode == 0 and 'disk:' not in proc.stdout


def test_disk_check_refuses_bad_settings(tmp_path):
    _, proc = check_disk(dict(S5_MM_MIN_FREE_MB='9x'))
    assert proc.returncode == 1
    assert 'S5_MM_MIN_FREE_MB must be a whole number of MB' in proc.stderr
    assert 'got 9x' in proc.stderr
    missing = tmp_path / 'no_such_tmp'
    _, proc = check_disk(dict(TMPDIR=str(missing)))
    assert proc.returncode == 1
    assert f'TMPDIR={missing} is not a folder' in proc.stderr


PIP_CONFLICT = (
    "ERROR: pip's dependency resolver does not currently take into account "
    'all the packages that are installed. This behaviour is the source of '
    'the following dependency conflicts.\n'
    'openmim 0.3.9 requires opendatalab, which is not installed.\n')


def _explain(stderr_text):
    """tools/setup_env.sh's filter of the openmim pip steps' stderr."""
    with open(SCRIPT) as f:
        text = f.read()
    start = text.index('explain_openmim_conflict() {')
    func = text[start:text.index('\n}\n', start) + 3]
    proc = subprocess.run(['bash', '-c', func + 'explain_openmim_conflict'],
                          input=stderr_text, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_openmim_resolver_error_becomes_one_line_of_ours():
    out = _explain('Collecting rich\n' + PIP_CONFLICT)
    assert 'ERROR' not in out and 'opendatalab, which is not' not in out
    lines = out.splitlines()
    assert lines[0] == 'Collecting rich'
    assert len(lines) == 2 and lines[1].startswith('[setup_env] note: pip')
    assert 'left out on purpose' in lines[1]
    # any other conflict is printed as pip wrote it
    other = PIP_CONFLICT + 'rich 13.4 requires pygments, which is not ' \
        'installed.\n'
    out = _explain(other)
    assert out.startswith("ERROR: pip's dependency resolver")
    assert 'rich 13.4 requires pygments' in out
    assert 'openmim 0.3.9 requires opendatalab' not in out
    assert _explain('ERROR: No matching distribution found for x\n') == \
        'ERROR: No matching distribution found for x\n'
