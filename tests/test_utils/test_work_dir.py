"""s5_mm.utils.work_dir and checkpoint_problem on their own: the lock file,
last_checkpoint resolution and the intact-checkpoint order."""
import json
import os
import socket

import pytest
import torch

from s5_mm.utils.checkpoint import checkpoint_problem
from s5_mm.utils.work_dir import (WorkDirLock, WorkDirLockedError,
                                  find_resume_checkpoint,
                                  resolve_last_checkpoint)


def test_lock_is_exclusive_and_released(tmp_path):
    first = WorkDirLock(str(tmp_path))
    assert first.acquire() is None
    owner = json.loads((tmp_path / 'train.lock').read_text())
    assert owner['pid'] == os.getpid()
    assert owner['host'] == socket.gethostname()
    with pytest.raises(WorkDirLockedError, match=f'process {os.getpid()}'):
        WorkDirLock(str(tmp_path)).acquire()
    first.release()
    assert not (tmp_path / 'train.lock').exists()


def test_lock_of_another_host_counts_as_held(tmp_path):
    (tmp_path / 'train.lock').write_text(json.dumps(
        dict(pid=1, host='elsewhere', started='x', command='train')))
    with pytest.raises(WorkDirLockedError, match='process 1 on elsewhere'):
        WorkDirLock(str(tmp_path)).acquire()


def test_last_checkpoint_is_read_in_its_work_dir(tmp_path):
    (tmp_path / 'iter_4.pth').write_bytes(b'')
    (tmp_path / 'last_checkpoint').write_text('/old/place/iter_4.pth')
    assert resolve_last_checkpoint(str(tmp_path)) == str(
        tmp_path / 'iter_4.pth')
    assert resolve_last_checkpoint(str(tmp_path / 'none')) is None


@pytest.mark.parametrize('legacy', [False, True])
def test_damaged_checkpoints_are_found_and_skipped(tmp_path, legacy):
    for it in (1, 2, 10):
        torch.save({'it': torch.arange(1000) * it}, tmp_path / f'iter_{it}.pth',
                   _use_new_zipfile_serialization=not legacy)
        assert checkpoint_problem(str(tmp_path / f'iter_{it}.pth')) is None
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_10.pth'))
    path = tmp_path / 'iter_10.pth'
    path.write_bytes(path.read_bytes()[:path.stat().st_size // 2])
    assert checkpoint_problem(str(path)) is not None
    found, skipped = find_resume_checkpoint(str(tmp_path))
    # iter_10 (named by last_checkpoint) is damaged; iter_2 is newest intact
    assert found == str(tmp_path / 'iter_2.pth')
    assert len(skipped) == 1 and skipped[0].startswith(str(path))
