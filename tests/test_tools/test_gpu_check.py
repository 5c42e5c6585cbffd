"""tools/gpu_check.py: the GPU paths run on the CPU (``--device cpu``, fp32,
gloo DDP), skip reasons. The report's verdicts from hand-made records are in
tests/test_utils/test_gpu_check/."""
import json

import pytest
from script_runner import run_script

from s5_mm.utils.gpu_check import PATHS, _skip_reason
from s5_mm.utils.gpu_check.ddp import PARAM_TOLERANCE


@pytest.fixture(scope='module')
def cpu_report(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('gpu_check')
    out = tmp / 'report.json'
    proc = run_script(['tools/gpu_check.py', '--device', 'cpu', '--iters',
                       '2', '--out', str(out), '--work-dir',
                       str(tmp / 'wd')], timeout=900)
    return proc, json.loads(out.read_text())


def test_cpu_run_exercises_every_path(cpu_report):
    proc, report = cpu_report
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert sorted(report['paths']) == sorted(PATHS)
    env = report['environment']
    assert env['device'] == 'cpu' and env['gpus'] == []
    assert env['mmcv']['compiled_ops'] is True
    ran = {n: r for n, r in report['paths'].items() if r['status'] == 'ok'}
    assert set(ran) == {'s4p_fixmatch', 's4p_ema', 'moe_mdf_seg',
                        'moe_mdf_det', 'selector', 'ddp'}
    # the selector: every bundled unlabeled scene scored, the budget filled
    assert ran.pop('selector')['selected'] == 10
    assert report['paths']['selector']['candidates'] == 72
    for name, result in ran.items():
        assert result['iterations'] == 2, name
        assert result['losses_finite'] is True, name
        assert result['iters_per_s'] > 0, name
        assert result['amp'] is None and 'loss_scale' not in result, name
    # DDP: two gloo ranks whose parameters agree after the steps
    assert ran['ddp']['ranks'] == 2 and ran['ddp']['backend'] == 'gloo'
    assert ran['ddp']['param_max_diff'] <= PARAM_TOLERANCE
    skipped = report['paths']
    assert skipped['s4p_fixmatch_bf16'] == dict(
        status='skipped',
        reason='AMP needs CUDA: the CPU run is fp32 (s4p_fixmatch)')
    assert skipped['faiss_gpu_kmeans']['status'] == 'skipped'
    # the table: a header line, then one row per path with its status
    rows = [line.split()[:2] for line in proc.stdout.splitlines()
            if line.split() and line.split()[0] in PATHS]
    assert sorted(rows) == sorted([n, r['status']]
                                  for n, r in report['paths'].items())


def test_no_gpu_skips_every_path_and_exits_0(tmp_path):
    out = tmp_path / 'r.json'
    proc = run_script(['tools/gpu_check.py', '--out', str(out)],
                      env={'CUDA_VISIBLE_DEVICES': ''}, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'no GPU visible: every path skipped' in proc.stdout
    report = json.loads(out.read_text())
    assert {r['status'] for r in report['paths'].values()} == {'skipped'}
    assert len(report['paths']) == len(PATHS)


def test_a_failing_path_exits_1_with_its_error(tmp_path):
    empty = tmp_path / 'data'
    empty.mkdir()
    out = tmp_path / 'r.json'
    proc = run_script(['tools/gpu_check.py', '--device', 'cpu', '--paths',
                       's4p_fixmatch', '--data-root', str(empty), '--out',
                       str(out), '--work-dir', str(tmp_path / 'wd')],
                      timeout=300)
    assert proc.returncode == 1
    assert 'FAILED paths: s4p_fixmatch' in proc.stdout
    result = json.loads(out.read_text())['paths']['s4p_fixmatch']
    assert result['status'] == 'failed'
    assert str(empty) in result['reason'] or 'loveda' in result['reason']
    assert 'Traceback' in result['traceback']


def test_skip_reasons_on_gpu_machines():
    env = dict(bf16=False, gpus=[dict(name='A')], nccl=True,
               faiss=dict(gpus=0),
               mmcv=dict(compiled_ops=True, cuda_ops=False))
    assert 'one GPU only' in _skip_reason('ddp', 'cuda', env, 1)
    assert 'without CUDA ops' in _skip_reason('moe_mdf_det', 'cuda', env, 1)
    assert 'no bfloat16' in _skip_reason('s4p_fixmatch_bf16', 'cuda', env, 1)
    assert 'faiss sees no GPU' in _skip_reason('faiss_gpu_kmeans', 'cuda',
                                               env, 1)
    env.update(bf16=True, gpus=[dict(name='A'), dict(name='B')],
               faiss=dict(gpus=2),
               mmcv=dict(compiled_ops=True, cuda_ops=True))
    for name in PATHS:
        assert _skip_reason(name, 'cuda', env, 2) is None, name
    env['nccl'] = False
    assert 'NCCL' in _skip_reason('ddp', 'cuda', env, 2)
