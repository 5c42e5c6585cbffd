"""StrictLoadHook: the runner's checkpoint loading (load_from, resume,
tools/test.py) refuses weights that do not fit, unless a partial load is
asked for."""
import uuid

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.model import BaseModel
from mmengine.runner import Runner

from s5_mm.engine.hooks import StrictLoadHook
from s5_mm.utils.checkpoint import CheckpointMismatchError


class _Linear(BaseModel):

    def __init__(self, out: int, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.fc = nn.Linear(2, out)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        return self.fc(inputs)


def _runner(tmp_path, model, hook, **cfg):
    return Runner(model=model, work_dir=str(tmp_path / 'work'),
                  experiment_name=f'strict_{uuid.uuid4().hex[:8]}',
                  load_from=cfg.get('load_from'), cfg=Config(cfg),
                  default_hooks=dict(strict_load=hook))


def _save(tmp_path, out, seed=1):
    path = str(tmp_path / f'fc{out}.pth')
    torch.save(dict(state_dict=_Linear(out, seed).state_dict(), meta={}),
               path)
    return path


def test_mismatch_stops_the_load_before_any_weight_changes(tmp_path):
    path = _save(tmp_path, 4)
    model = _Linear(3)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    runner = _runner(tmp_path, model, dict(type='StrictLoadHook'),
                     load_from=path)
    with pytest.raises(CheckpointMismatchError) as exc:
        runner.load_or_resume()
    msg = str(exc.value)
    assert msg.startswith(f'checkpoint {path} does not fit _Linear: 2 shape '
                          'mismatches, 0 missing keys, 0 unexpected keys')
    assert ('fc.weight: (4, 2) in the checkpoint, (3, 2) in the model'
            in msg)
    assert 'fc.bias: (4,) in the checkpoint, (3,) in the model' in msg
    assert all(torch.equal(before[k], v)
               for k, v in model.state_dict().items())


def test_a_fitting_checkpoint_loads_exactly(tmp_path):
    path = _save(tmp_path, 3, seed=7)
    model = _Linear(3)
    runner = _runner(tmp_path, model, StrictLoadHook(), load_from=path)
    runner.load_or_resume()
    want = _Linear(3, seed=7).state_dict()
    assert all(torch.equal(want[k], v) for k, v in model.state_dict().items())


def test_partial_load_from_the_config_or_the_hook(tmp_path):
    path = _save(tmp_path, 4)
    # the config key (what --allow-partial-load sets)
    model = _Linear(3)
    weight = model.fc.weight.clone()
    _runner(tmp_path, model, StrictLoadHook(), load_from=path,
            allow_partial_load=True).load_or_resume()
    assert torch.equal(model.fc.weight, weight)  # kept its init
    # the hook's own argument wins over the config key, both ways
    _runner(tmp_path, _Linear(3), StrictLoadHook(allow_partial=True),
            load_from=path).load_or_resume()
    with pytest.raises(CheckpointMismatchError, match='fc.weight'):
        _runner(tmp_path, _Linear(3), StrictLoadHook(allow_partial=False),
                load_from=path, allow_partial_load=True).load_or_resume()


def test_without_load_from_the_source_is_the_latest_checkpoint(tmp_path):
    path = _save(tmp_path, 4)
    runner = _runner(tmp_path, _Linear(3), StrictLoadHook())
    with pytest.raises(CheckpointMismatchError,
                       match='^checkpoint the loaded checkpoint does not'):
        runner.load_checkpoint(path)
