"""Shared fixtures of the whole suite.

Helper modules (tiny configs, data makers, DDP workers) live in
``tests/utils/`` with unique names and are imported as top-level modules
(``from mdf_seg_utils import tiny_cfg``). Fixtures that train or build
something costly are session-scoped: made once per test run.
"""
import os
import os.path as osp
import sys

import pytest
import torch

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DATA_ROOT = osp.join(REPO_ROOT, 'tests', 'data')
# the helpers of the tests; the converters in tools/model_converters import
# their shared helpers (ckpt_utils) as top-level modules, like as scripts
for path in (osp.join(REPO_ROOT, 'tests', 'utils'),
             osp.join(REPO_ROOT, 'tools', 'model_converters')):
    if path not in sys.path:
        sys.path.insert(0, path)

from mdf_det_common import (moe_cfg, moe_cfg_loaded, test_sets,  # noqa: E402,F401,E501
                            tiny_moe_model, train_sets)

# --- parallel workers (pytest-xdist, ``-n auto`` in pytest.ini)
_WORKERS = int(os.environ.get('PYTEST_XDIST_WORKER_COUNT', '1'))
if _WORKERS > 1:
    # the cores are shared by the workers: torch in each worker, and the
    # tools and DDP ranks it runs (they read OMP_NUM_THREADS), get their part
    _THREADS = max(1, (os.cpu_count() or 1) // _WORKERS)
    os.environ['OMP_NUM_THREADS'] = str(_THREADS)
    torch.set_num_threads(_THREADS)


def pytest_xdist_auto_num_workers(config):
    """``-n auto``: one worker per core, at most 4 (each worker imports the
    stack, ~1.1 GB, and its session fixtures are its own)."""
    return max(1, min(os.cpu_count() or 1, 4))


@pytest.fixture(scope='session')
def repo_root():
    return REPO_ROOT


@pytest.fixture(scope='session')
def data_root():
    return DATA_ROOT


@pytest.fixture(scope='session')
def image_demo(repo_root):
    """demo/image_demo.py imported as a module (its ``main(argv)``)."""
    sys.path.insert(0, osp.join(repo_root, 'demo'))
    try:
        import image_demo
    finally:
        sys.path.pop(0)
    return image_demo


@pytest.fixture(autouse=True, scope='session')
def _chdir_repo_root():
    # configs refer to data as tests/data/...; run everything from the repo root.
    old = os.getcwd()
    os.chdir(REPO_ROOT)
    yield
    os.chdir(old)


# --- the S4P demo (tiny ViT + UperNet, 64 px crops)
@pytest.fixture
def demo_cfg():
    """The shipped S4P demo config (a fresh copy per test)."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from s4p_utils import DEMO_CFG
    init_default_scope('mmseg')
    return Config.fromfile(DEMO_CFG)


# --- the supervised demo segmentor, used by the selector tests
@pytest.fixture(scope='session')
def seg_demo_cfg():
    """The shipped demo segmentor config, test images resized to 64 px."""
    from selection_utils import small_cfg
    return small_cfg()


@pytest.fixture(scope='session')
def seg_demo_model(seg_demo_cfg):
    """The demo segmentor, randomly initialised (seed 0), in eval mode."""
    from mmseg.apis import init_model
    torch.manual_seed(0)
    return init_model(seg_demo_cfg, None, device='cpu').eval()


@pytest.fixture(scope='session')
def seg_demo_pipeline(seg_demo_cfg):
    from s5_mm.selection import build_scoring_pipeline
    return build_scoring_pipeline(seg_demo_cfg)


@pytest.fixture(scope='session')
def seg_demo_checkpoint(seg_demo_model, tmp_path_factory):
    """The demo segmentor saved like a training run saves it."""
    from mmengine.runner import save_checkpoint
    path = str(tmp_path_factory.mktemp('ckpt') / 'demo.pth')
    save_checkpoint(
        dict(state_dict=seg_demo_model.state_dict(),
             meta=dict(dataset_meta=dict(classes=[str(i) for i in range(7)]))),
        path)
    return path


# --- a tiny MoE-MDF segmentation run
@pytest.fixture(scope='session')
def trained_moe_mdf(tmp_path_factory):
    """A tiny MoE-MDF (shrunk from the shipped config) trained 4 iterations
    on the bundled data: (config, runner, dumped config path, checkpoint)."""
    from mdf_seg_utils import make_openearthmap, tiny_cfg
    from mmengine.runner import Runner
    root = tmp_path_factory.mktemp('mdf')
    cfg = tiny_cfg(make_openearthmap(str(root / 'oem')),
                   work_dir=str(root / 'work'), max_iters=4)
    runner = Runner.from_cfg(cfg)
    runner.train()
    cfg_path = osp.join(cfg.work_dir, 'tiny_moe_mdf.py')
    cfg.dump(cfg_path)
    return cfg, runner, cfg_path, osp.join(cfg.work_dir, 'iter_4.pth')


@pytest.fixture(scope='session')
def seg_demo_scored(seg_demo_checkpoint, tmp_path_factory):
    """A selection work dir whose unlabeled pool (tests/data/unlabeled, 72
    images) and labeled set are scored by ``tools/select_data.py score``
    with the demo segmentor (shards of 8, batches of 4): (work dir, the
    score arguments after the step name, without --work-dir and labeled)."""
    import importlib.util
    from selection_utils import LABELED, UNLABELED, tool_cfg_file
    spec = importlib.util.spec_from_file_location(
        'select_data', osp.join(REPO_ROOT, 'tools', 'select_data.py'))
    select_data = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(select_data)
    root = tmp_path_factory.mktemp('scored')
    args = [tool_cfg_file(root), seg_demo_checkpoint, '--pool-root',
            UNLABELED, '--shard-size', '8', '--batch-size', '4',
            '--num-workers', '0']
    work = str(root / 'work')
    select_data.main(['score', '--work-dir', work, '--labeled-root', LABELED]
                     + args)
    return work, args
