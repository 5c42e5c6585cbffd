import os
import os.path as osp

import pytest

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DATA_ROOT = osp.join(REPO_ROOT, 'tests', 'data')


@pytest.fixture(scope='session')
def repo_root():
    return REPO_ROOT


@pytest.fixture(scope='session')
def data_root():
    return DATA_ROOT


@pytest.fixture(autouse=True, scope='session')
def _chdir_repo_root():
    # configs refer to data as tests/data/...; run everything from the repo root.
    old = os.getcwd()
    os.chdir(REPO_ROOT)
    yield
    os.chdir(old)
