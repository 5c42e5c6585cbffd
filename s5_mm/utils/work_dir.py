"""One training run per work dir, and resuming from the work dir's own
checkpoints.

- :class:`WorkDirLock`: ``tools/train.py`` holds ``WORK_DIR/train.lock``
  (the PID, host and command of the run) while it runs. A second run on the
  same work dir stops with a message naming that process; a lock whose
  process is gone (killed, crashed) is taken over, and said so.
- :func:`resolve_last_checkpoint`: mmengine's ``last_checkpoint`` file
  stores an absolute path; it is read relative to the work dir that holds
  it (the file name in this work dir), so a copied or moved work dir
  resumes from its own checkpoints, never from the folder it came from.
- :func:`find_resume_checkpoint`: the newest intact checkpoint of a work
  dir, starting from ``last_checkpoint``; one that is truncated or
  unreadable is skipped and reported.
"""
import glob
import json
import os
import os.path as osp
import re
import socket
import sys
import time
from typing import List, Optional, Tuple

from s5_mm.utils.checkpoint import checkpoint_problem

LOCK_NAME = 'train.lock'


class WorkDirLockedError(RuntimeError):
    """Another live run holds the work dir."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


class WorkDirLock:
    """``WORK_DIR/train.lock`` held by one run (see the module docstring).

    Args:
        work_dir (str): the run's work dir (created if missing).
    """

    def __init__(self, work_dir: str) -> None:
        self.work_dir = work_dir
        self.path = osp.join(work_dir, LOCK_NAME)
        self.held = False

    def _owner(self) -> dict:
        try:
            with open(self.path, encoding='utf-8') as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}  # being written, or not ours: treat as unknown

    def acquire(self) -> Optional[str]:
        """Take the lock.

        Returns:
            str | None: a message when a stale lock (its process is gone)
            was taken over, else None.

        Raises:
            WorkDirLockedError: a live process (or one on another host,
                which cannot be checked) holds it.
        """
        os.makedirs(self.work_dir, exist_ok=True)
        took_over = None
        for _ in range(3):  # a stale lock is removed, then taken atomically
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                owner = self._owner()
                pid, host = owner.get('pid'), owner.get('host')
                same_host = host == socket.gethostname()
                if not (isinstance(pid, int) and same_host
                        and not _pid_alive(pid)):
                    raise WorkDirLockedError(self._held_message(owner))
                took_over = (f'work dir {self.work_dir}: took over the lock '
                             f'of process {pid} ({owner.get("command")}), '
                             'which is gone')
                try:
                    os.remove(self.path)
                except FileNotFoundError:
                    pass
                continue
            with os.fdopen(fd, 'w', encoding='utf-8') as f:
                json.dump(dict(pid=os.getpid(), host=socket.gethostname(),
                               started=time.strftime('%Y-%m-%d %H:%M:%S'),
                               command=" ".join(sys.argv)), f)
            self.held = True
            return took_over
        raise WorkDirLockedError(self._held_message(self._owner()))

    def _held_message(self, owner: dict) -> str:
        who = (f"process {owner.get('pid')} on {owner.get('host')} (started "
               f"{owner.get('started')}: {owner.get('command')})"
               if owner else 'another process')
        return (f'work dir {self.work_dir} is in use by {who}; its lock is '
                f'{self.path}. Two runs in one work dir mix their logs and '
                'overwrite each other\'s checkpoints: wait for that run, stop '
                'it, or pass another --work-dir (delete the lock file only if '
                'that process is really gone)')

    def release(self) -> None:
        """Remove the lock file if this process holds it."""
        if self.held and self._owner().get('pid') == os.getpid():
            try:
                os.remove(self.path)
            except FileNotFoundError:
                pass
        self.held = False


def resolve_last_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint ``WORK_DIR/last_checkpoint`` names, in this work dir.

    mmengine writes an absolute path there. The file of that name in
    ``work_dir`` is taken when it exists (a copied or moved work dir);
    otherwise the path as written (a checkpoint hook ``out_dir`` outside
    the work dir). None without a ``last_checkpoint`` file.
    """
    marker = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(marker):
        return None
    with open(marker, encoding='utf-8') as f:
        written = f.read().strip()
    here = osp.join(work_dir, osp.basename(written))
    if osp.isfile(here) or not osp.isabs(written):
        return here
    return written


def _order(path: str) -> Tuple[int, float]:
    number = re.search(r'(\d+)\.pth$', osp.basename(path))
    return (int(number.group(1)) if number else -1, osp.getmtime(path))


def find_resume_checkpoint(work_dir: str
                           ) -> Tuple[Optional[str], List[str]]:
    """The checkpoint to resume from and the broken ones skipped.

    ``last_checkpoint``'s file (resolved in ``work_dir``) first, then the
    other ``*.pth`` of the work dir, newest (highest iteration / epoch
    number, then modification time) first; the first intact one wins.

    Returns:
        tuple: (path or None, ``'PATH (problem)'`` of each skipped file).
    """
    last = resolve_last_checkpoint(work_dir)
    others = sorted((p for p in glob.glob(osp.join(work_dir, '*.pth'))
                     if osp.abspath(p) != osp.abspath(last or '')),
                    key=_order, reverse=True)
    skipped = []
    for path in ([last] if last else []) + others:
        problem = checkpoint_problem(path)
        if problem is None:
            return path, skipped
        skipped.append(f'{path} ({problem})')
    return None, skipped
