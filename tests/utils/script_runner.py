"""Run a repository script (``tools/*.py``, ``demo/*.py``) as
``python SCRIPT ARGS`` would, without importing the stack again every time.

A fresh interpreter spends about 10 s of CPU importing torch, mmcv, mmseg,
mmdet, mmrotate and s5_mm before a tool does anything, and the suite runs
tools dozens of times. :func:`run_script` forks each run from a
``multiprocessing`` fork server that has imported those packages once and
nothing else (no registry scope, logger, visualizer, model or dataset exists
in it), so the script starts from the state a fresh process reaches after its
own imports. Each run is a process of its own, with its own exit code,
stdout and stderr, working directory and environment; ``sys.argv`` and
``sys.path[0]`` are those of ``python SCRIPT``.

What the fork server cannot stand in for uses :mod:`subprocess`: behaviour at
import time (``python -c 'import s5_mm'``), launchers (``dist_train.sh``,
torchrun, mim) and runs killed from outside while they write.
:func:`run_script_ranks` starts the ranks of a one-node DDP run the way
torchrun does (the same environment variables), for tests of what DDP
computes; the launch scripts themselves are tested through torchrun.
"""
import logging
import multiprocessing
import os
import os.path as osp
import runpy
import socket
import subprocess
import sys
import tempfile
import time
from typing import Dict, Optional, Sequence

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PRELOAD = ['torch', 'mmengine.runner', 'mmseg.apis', 'mmdet.apis',
           'mmrotate', 's5_mm']
_CTX = multiprocessing.get_context('forkserver')
_CTX.set_forkserver_preload(PRELOAD)


def _fresh_sys_path(script_dir: str) -> list:
    """``sys.path`` of ``python SCRIPT``: the script's folder first, and
    none of the test suite's helper folders."""
    own = (osp.join(REPO_ROOT, 'tests'), osp.join(REPO_ROOT, 'tools'))
    rest = [p for p in sys.path
            if p and osp.abspath(p) != REPO_ROOT + '/demo'
            and not osp.abspath(p).startswith(own)]
    return [script_dir] + rest


def _child(script: str, argv: Sequence[str], cwd: str, env: Dict[str, str],
           out_path: str, err_path: str) -> None:
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    for fd, path in ((1, out_path), (2, err_path)):
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(handle, fd)
        os.close(handle)
    sys.stdout = open(1, 'w', buffering=1, closefd=False, errors='replace')
    sys.stderr = open(2, 'w', buffering=1, closefd=False, errors='replace')
    if env.get('OMP_NUM_THREADS'):  # read by torch when it was imported
        import torch
        torch.set_num_threads(int(env['OMP_NUM_THREADS']))
    script = osp.abspath(script)
    sys.argv = [script, *argv]
    sys.path[:] = _fresh_sys_path(osp.dirname(script))
    try:
        runpy.run_path(script, run_name='__main__')
    finally:
        logging.shutdown()


def _start(script: str, argv: Sequence[str], cwd: str, env: dict,
           tmp: str, tag: str):
    out, err = osp.join(tmp, f'{tag}.stdout'), osp.join(tmp, f'{tag}.stderr')
    for path in (out, err):
        open(path, 'w').close()
    proc = _CTX.Process(target=_child,
                        args=(script, argv, cwd, env, out, err))
    proc.start()
    return proc, out, err


def _finish(procs: list, timeout: float, args: list):
    """Wait for every process; kill all of them at the timeout."""
    deadline = time.monotonic() + timeout
    for proc, _, _ in procs:
        proc.join(max(0.0, deadline - time.monotonic()))
    if any(proc.is_alive() for proc, _, _ in procs):
        for proc, _, _ in procs:
            proc.kill()
            proc.join()
        raise subprocess.TimeoutExpired(args, timeout)
    texts = [[], []]
    for _, out, err in procs:
        for i, path in enumerate((out, err)):
            with open(path, errors='replace') as f:
                texts[i].append(f.read())
    codes = [proc.exitcode for proc, _, _ in procs]
    code = next((c for c in codes if c != 0), 0)
    return subprocess.CompletedProcess([sys.executable, *args], code,
                                       ''.join(texts[0]), ''.join(texts[1]))


def _split(args: Sequence[str], cwd, env):
    script, *argv = [str(a) for a in args]
    if not script.endswith('.py'):
        raise ValueError(f'run_script runs a .py script, got {script!r}: '
                         'use subprocess for anything else')
    cwd = os.getcwd() if cwd is None else str(cwd)
    return script, argv, cwd, dict(os.environ if env is None else env)


def run_script(args: Sequence[str], cwd: Optional[str] = None,
               env: Optional[Dict[str, str]] = None,
               timeout: float = 900) -> subprocess.CompletedProcess:
    """``subprocess.run([sys.executable, *args], capture_output=True,
    text=True)`` for a Python script of the repository.

    Args:
        args (Sequence[str]): the script's path, then its arguments.
        cwd (str, optional): working directory. Defaults to the current one.
        env (dict, optional): environment. Defaults to ``os.environ``.
        timeout (float): seconds before the run is killed and
            ``subprocess.TimeoutExpired`` is raised. Defaults to 900.

    Returns:
        subprocess.CompletedProcess: ``returncode``, ``stdout``, ``stderr``.
    """
    script, argv, cwd, env = _split(args, cwd, env)
    with tempfile.TemporaryDirectory(prefix='s5mm_run_') as tmp:
        procs = [_start(script, argv, cwd, env, tmp, 'run')]
        return _finish(procs, timeout, [script, *argv])


def run_script_ranks(args: Sequence[str], nproc: int = 2,
                     cwd: Optional[str] = None,
                     env: Optional[Dict[str, str]] = None,
                     timeout: float = 900) -> subprocess.CompletedProcess:
    """The ranks of ``torchrun --nproc_per_node=NPROC SCRIPT ARGS`` on one
    node: ``MASTER_ADDR`` / ``MASTER_PORT`` / ``RANK`` / ``LOCAL_RANK`` /
    ``WORLD_SIZE`` set as torchrun sets them, one thread per rank unless
    ``OMP_NUM_THREADS`` is given.

    Returns:
        subprocess.CompletedProcess: the first non-zero exit code of a rank
        (else 0), the ranks' stdout and stderr one after the other.
    """
    script, argv, cwd, env = _split(args, cwd, env)
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory(prefix='s5mm_ranks_') as tmp:
        procs = []
        for rank in range(nproc):
            rank_env = dict(env, MASTER_ADDR='127.0.0.1',
                            MASTER_PORT=str(port), RANK=str(rank),
                            LOCAL_RANK=str(rank), WORLD_SIZE=str(nproc),
                            LOCAL_WORLD_SIZE=str(nproc), GROUP_RANK='0')
            rank_env.setdefault('OMP_NUM_THREADS', '1')
            procs.append(_start(script, argv, cwd, rank_env, tmp,
                                f'rank{rank}'))
        return _finish(procs, timeout, [script, *argv])
