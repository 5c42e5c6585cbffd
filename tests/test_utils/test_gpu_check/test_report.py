"""s5_mm.utils.gpu_check.report: the GPU check's table and verdict."""
from s5_mm.utils.gpu_check import has_failures
from s5_mm.utils.gpu_check.report import format_table


def test_has_failures():
    """(moved from test_summary_from_a_hand_made_record)"""
    report = dict(paths=dict(a=dict(status='ok'), b=dict(status='skipped')))
    assert not has_failures(report)
    report['paths']['c'] = dict(status='failed')
    assert has_failures(report)


def test_table_of_a_hand_made_report():
    report = dict(
        environment=dict(torch='2.1.0', cuda='12.1', gpus=[dict(name='H100')],
                         mmcv=dict(version='2.1.0', cuda_ops=True),
                         faiss=dict(gpus=1), nccl=True, device='cuda'),
        paths=dict(
            s4p=dict(status='ok', iters_per_s=2.5, peak_gpu_mem_mb=1024.0,
                     losses_finite=True, loss_scale=[32768.0, 65536.0]),
            det=dict(status='failed', reason='x' * 100),
            ddp=dict(status='skipped', reason='one GPU only')))
    # column widths 4, 7, 4, 7, 6, 12, 90 (the reason cut to 87 + '...')
    assert format_table(report).splitlines() == [
        'torch 2.1.0 (CUDA 12.1), GPUs: H100, mmcv 2.1.0 CUDA ops: True, '
        'faiss GPUs: 1, NCCL: True, device: cuda',
        'path  status   it/s  peak MB  finite  loss scale    reason',
        '----  -------  ----  -------  ------  ------------  ' + '-' * 90,
        's4p   ok       2.5   1024.0   True    32768..65536  -',
        'det   failed   -     -        -       -             ' + 'x' * 87 +
        '...',
        'ddp   skipped  -     -        -       -             one GPU only',
    ]
    report['environment'].update(gpus=[], faiss={}, device='cpu')
    assert format_table(report).splitlines()[0] == (
        'torch 2.1.0 (CUDA 12.1), GPUs: none, mmcv 2.1.0 CUDA ops: True, '
        'faiss GPUs: 0, NCCL: True, device: cpu')
