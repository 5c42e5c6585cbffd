"""IterationRecorderHook: each training iteration's losses, loss scale and
time, recorded under its run id (the GPU check reads them)."""
import uuid

import pytest
import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmengine.runner import Runner

from s5_mm.engine.hooks import IterationRecorderHook
from s5_mm.engine.hooks.iteration_recorder_hook import RECORDS


class _Square(BaseModel):
    """loss = w ** 2 from w = 1; plus a logged value that is no loss."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(1.0))

    def forward(self, inputs, data_samples=None, mode='tensor'):
        return dict(loss_sq=self.w**2, acc=torch.tensor(0.5))


def test_losses_of_three_sgd_steps(tmp_path):
    run_id = f'test_{uuid.uuid4().hex[:8]}'
    runner = Runner(
        model=_Square(), work_dir=str(tmp_path),
        experiment_name=run_id,
        train_dataloader=dict(
            dataset=[dict(inputs=torch.zeros(1))] * 4,
            sampler=dict(type='DefaultSampler', shuffle=False),
            batch_size=1, collate_fn=dict(type='pseudo_collate')),
        train_cfg=dict(by_epoch=False, max_iters=3),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook',
                                           interval=10, by_epoch=False)),
        custom_hooks=[dict(type='IterationRecorderHook', run_id=run_id)])
    runner.train()
    record = RECORDS[run_id]
    # SGD on w**2: w <- w - 0.1 * 2w = 0.8 w, so the losses are 0.8**(2k)
    want = [1.0, 0.64, 0.4096]
    assert [r['losses'] for r in record] == [
        dict(loss=pytest.approx(v), loss_sq=pytest.approx(v)) for v in want]
    assert [r['loss_scale'] for r in record] == [None] * 3  # no AMP
    times = [r['time'] for r in record]
    assert times == sorted(times) and len(set(times)) == 3


def test_records_are_shared_by_run_id_and_take_the_loss_scale():
    run_id = f'test_{uuid.uuid4().hex[:8]}'
    hook = IterationRecorderHook(run_id)
    assert hook.record is RECORDS[run_id] == []
    assert IterationRecorderHook(run_id).record is hook.record
    assert IterationRecorderHook(run_id + 'x').record is not hook.record


def test_loss_scale_of_an_amp_scaler(tmp_path):
    """The loss scaler's scale (``AmpOptimWrapper.loss_scaler``, a torch
    GradScaler) is recorded; here a CPU GradScaler at its initial scale."""
    run_id = f'test_{uuid.uuid4().hex[:8]}'
    runner = Runner(model=_Square(), work_dir=str(tmp_path),
                    experiment_name=run_id,
                    optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
                    train_dataloader=dict(
                        dataset=[dict(inputs=torch.zeros(1))] * 2,
                        sampler=dict(type='DefaultSampler', shuffle=False),
                        batch_size=1, collate_fn=dict(type='pseudo_collate')),
                    train_cfg=dict(by_epoch=False, max_iters=1))
    runner.optim_wrapper = runner.build_optim_wrapper(runner.optim_wrapper)
    runner.optim_wrapper.loss_scaler = torch.amp.GradScaler(
        'cpu', init_scale=1024.0)
    hook = IterationRecorderHook(run_id)
    hook.after_train_iter(runner, 0, outputs=dict(
        loss=torch.tensor(2.0), loss_x=torch.tensor([0.5]),
        acc=torch.tensor(0.9)))
    assert RECORDS[run_id][0]['losses'] == dict(loss=2.0, loss_x=0.5)
    assert RECORDS[run_id][0]['loss_scale'] == 1024.0
