"""The suite's script runner (tests/utils/script_runner.py) gives what
``python SCRIPT ARGS`` gives: exit code, stdout, stderr, argv, cwd,
environment and ``sys.path[0]``, compared with a real subprocess."""
import json
import os
import subprocess
import sys
import textwrap

import pytest

from script_runner import run_script, run_script_ranks

SCRIPT = textwrap.dedent('''
    import json, os, sys
    print(json.dumps(dict(
        argv=sys.argv[1:], cwd=os.getcwd(), path0=sys.path[0],
        env=os.environ.get('S5MM_PROBE'), name=__name__,
        rank=os.environ.get('RANK'), world=os.environ.get('WORLD_SIZE'),
        port=os.environ.get('MASTER_PORT'),
        helpers=[p for p in sys.path if p.endswith(('/tests', '/tools'))])))
    sys.stderr.write('to stderr\\n')
    if '--fail' in sys.argv:
        raise RuntimeError('failed on purpose')
    sys.exit(int(sys.argv[1]))
''')


@pytest.fixture
def script(tmp_path):
    path = tmp_path / 'bin' / 'probe.py'
    path.parent.mkdir()
    path.write_text(SCRIPT)
    (tmp_path / 'work').mkdir()
    return path


def _both(args, cwd, env):
    real = subprocess.run([sys.executable, *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)
    return real, run_script(args, cwd=cwd, env=env)


def test_run_script_equals_a_subprocess(script, tmp_path):
    env = dict(os.environ, S5MM_PROBE='seen')
    cwd = str(tmp_path / 'work')
    real, forked = _both([str(script), '3', 'a b'], cwd, env)
    assert forked.returncode == real.returncode == 3
    assert json.loads(forked.stdout) == json.loads(real.stdout)
    out = json.loads(forked.stdout)
    assert out['argv'] == ['3', 'a b'] and out['cwd'] == cwd
    assert out['path0'] == str(script.parent) and out['env'] == 'seen'
    assert out['name'] == '__main__' and out['helpers'] == []
    assert forked.stderr == real.stderr == 'to stderr\n'


def test_run_script_reports_an_exception_like_python(script, tmp_path):
    real, forked = _both([str(script), '0', '--fail'], str(tmp_path), None)
    assert forked.returncode == real.returncode == 1
    for proc in (real, forked):
        assert proc.stderr.startswith('to stderr\n')
        assert proc.stderr.rstrip().endswith(
            'RuntimeError: failed on purpose')


def test_run_script_timeout_and_bad_script(tmp_path):
    slow = tmp_path / 'slow.py'
    slow.write_text('import time\ntime.sleep(60)\n')
    with pytest.raises(subprocess.TimeoutExpired):
        run_script([str(slow)], timeout=2)
    with pytest.raises(ValueError, match='use subprocess'):
        run_script(['tools/dist_train.sh'])


def test_run_script_ranks_sets_torchruns_environment(script, tmp_path):
    proc = run_script_ranks([str(script), '0'], nproc=2, cwd=str(tmp_path))
    assert proc.returncode == 0
    ranks = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r['rank'] for r in ranks] == ['0', '1']
    assert {r['world'] for r in ranks} == {'2'}
    assert len({r['port'] for r in ranks}) == 1
    assert proc.stderr == 'to stderr\n' * 2
    # the first non-zero exit code of a rank is the run's
    assert run_script_ranks([str(script), '5'], nproc=2,
                            cwd=str(tmp_path)).returncode == 5
