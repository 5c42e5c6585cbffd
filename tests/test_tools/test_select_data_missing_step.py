"""tools/select_data.py run out of order: every step whose input is missing
stops with an error naming the missing file and the step to run first."""
import os.path as osp
import shutil

import pytest
from script_runner import run_script

pytestmark = pytest.mark.xdist_group('seg_demo_scored')  # its session fixture


def run_tool(*args):
    return run_script(['tools/select_data.py', *args])


def assert_names_step(proc, missing, step):
    assert proc.returncode != 0, proc.stdout
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith('FileNotFoundError: '), proc.stderr[-2000:]
    assert f'{missing} not found: it is written by the {step} step' in last
    assert f'`tools/select_data.py {step} ' in last


@pytest.fixture
def scored(seg_demo_scored, tmp_path):
    """A copy of the shared work dir whose unlabeled pool (72 images) and
    labeled set are scored by the tool's score step."""
    work = str(tmp_path / 'scored')
    shutil.copytree(seg_demo_scored[0], work)
    return work


def test_cluster_and_select_before_score(tmp_path):
    work = str(tmp_path / 'empty')
    assert_names_step(
        run_tool('cluster', '--work-dir', work, '--num-clusters', '2'),
        osp.join(work, 'labeled', 'features.npy'), 'score')
    assert_names_step(
        run_tool('select', '--work-dir', work, '--budget', '4'),
        osp.join(work, 'unlabeled', 'scores.npy'), 'score')


def test_cluster_without_the_labeled_set(scored, tmp_path):
    """score run without --labeled-root: cluster names the labeled
    features and the score command with --labeled-root."""
    work = str(tmp_path / 'w')
    shutil.copytree(osp.join(scored, 'unlabeled'), osp.join(work,
                                                            'unlabeled'))
    proc = run_tool('cluster', '--work-dir', work, '--num-clusters', '2')
    assert_names_step(proc, osp.join(work, 'labeled', 'features.npy'),
                      'score')
    assert '--labeled-root' in proc.stderr.strip().splitlines()[-1]


def test_select_before_cluster_then_in_order(scored):
    work = scored
    assert_names_step(
        run_tool('select', '--work-dir', work, '--budget', '4'),
        osp.join(work, 'clusters', 'clusters.json'), 'cluster')
    proc = run_tool('cluster', '--work-dir', work, '--num-clusters', '2')
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'labeled cluster sizes: [' in proc.stderr
    proc = run_tool('select', '--work-dir', work, '--budget', '4')
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'selected 4 of 72 images' in proc.stderr
    with open(osp.join(work, 'selection', 'split.txt'), encoding='utf-8') as f:
        assert len(f.read().splitlines()) == 4
