"""tools/train.py and tools/test.py with bad checkpoints: a mismatching
``load_from`` / test checkpoint stops with the keys and both shapes (unless
--allow-partial-load), a missing --resume file is named, and --resume with
nothing to resume says it starts from iteration 0."""

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from script_runner import run_script

SEG_DEMO = 'configs/demo/upernet_vit-tiny_1xb4-60iter_loveda-sample-64x64.py'
SHORT = ['train_cfg.max_iters=1', 'train_cfg.val_interval=1',
         'default_hooks.checkpoint.interval=1']
KEY = 'backbone.patch_embed.projection.weight'
SHAPES = '(96, 3, 8, 8) in the checkpoint, (64, 3, 8, 8) in the model'


def _run(*args):
    proc = run_script(args, timeout=600)
    return proc.returncode, proc.stdout + proc.stderr


@pytest.fixture(scope='module')
def embed96(tmp_path_factory):
    """A checkpoint of the seg demo model built with embed_dims 96."""
    import s5_mm  # noqa: F401
    from mmseg.registry import MODELS
    init_default_scope('mmseg')
    cfg = Config.fromfile(SEG_DEMO).model
    cfg.backbone.embed_dims = 96
    cfg.neck.embed_dim = 96
    cfg.decode_head.in_channels = [96] * 4
    path = tmp_path_factory.mktemp('ckpt') / 'embed96.pth'
    torch.save({'state_dict': MODELS.build(cfg).state_dict(), 'meta': {}},
               path)
    return path


def test_load_from_other_dims_stops_before_training(embed96, tmp_path):
    code, out = _run('tools/train.py', SEG_DEMO, '--work-dir', str(tmp_path),
                     '--cfg-options', f'load_from={embed96}', *SHORT)
    assert code != 0
    assert 'CheckpointMismatchError' in out and str(embed96) in out
    assert f'{KEY}: {SHAPES}' in out and '--allow-partial-load' in out
    assert not (tmp_path / 'iter_1.pth').exists()


def test_load_from_partial_with_opt_out_trains(embed96, tmp_path):
    code, out = _run('tools/train.py', SEG_DEMO, '--work-dir', str(tmp_path),
                     '--allow-partial-load', '--cfg-options',
                     f'load_from={embed96}', *SHORT)
    assert code == 0, out[-3000:]
    assert f'{KEY}: {SHAPES}' in out and 'Partial load allowed' in out
    assert (tmp_path / 'iter_1.pth').exists()


def test_test_tool_refuses_mismatching_checkpoint(embed96, tmp_path):
    code, out = _run('tools/test.py', SEG_DEMO, str(embed96), '--work-dir',
                     str(tmp_path))
    assert code != 0 and f'{KEY}: {SHAPES}' in out
    assert 'Iter(test)' not in out  # stopped before testing
    code, out = _run('tools/test.py', SEG_DEMO, str(embed96), '--work-dir',
                     str(tmp_path), '--allow-partial-load')
    assert code == 0, out[-3000:]
    assert 'Iter(test)' in out and 'mIoU: ' in out


def test_resume_missing_file_is_named(tmp_path):
    missing = tmp_path / 'nope' / 'iter_5.pth'
    code, out = _run('tools/train.py', SEG_DEMO, '--work-dir', str(tmp_path),
                     '--resume', str(missing))
    assert code != 0
    assert f'--resume checkpoint not found: {missing}' in out


def test_auto_resume_without_checkpoint_says_it_starts_fresh(tmp_path):
    code, out = _run('tools/train.py', SEG_DEMO, '--work-dir', str(tmp_path),
                     '--resume', '--cfg-options', *SHORT)
    assert code == 0, out[-3000:]
    line = (f'--resume: no checkpoint in {tmp_path} (no last_checkpoint '
            'file), starting from iteration 0')
    assert out.count(line) == 1
    assert 'Auto resumed' not in out and 'Iter(train) [1/1]' in out
    # the next (re)start of the same job resumes from what it wrote
    code, out = _run('tools/train.py', SEG_DEMO, '--work-dir', str(tmp_path),
                     '--resume', '--cfg-options', 'train_cfg.max_iters=2',
                     'train_cfg.val_interval=2')
    assert code == 0, out[-3000:]
    assert 'resumed epoch: 0, iter: 1' in out and 'starting from' not in out
