"""bench/s4p_gain_compare.py: the rerun interval it checks against, for
JSON with and without the recorded interval, and the gains it walks."""
import os.path as osp
import sys

import numpy as np

sys.path.insert(0, osp.join(osp.dirname(__file__), '..', '..', 'bench'))
from paired_stats import paired_summary, rerun_interval  # noqa: E402
from s4p_gain_compare import gains, rerun_of  # noqa: E402


def test_rerun_of_recomputes_what_older_json_lacks():
    values = [3.0, 4.0, 5.0, -1.0, 2.5, 0.5]
    summary = paired_summary(values)
    assert rerun_of(summary) == summary['rerun']
    old = {k: v for k, v in summary.items() if k != 'rerun'}
    # from the rounded mean and sd: within the rounding of the JSON
    np.testing.assert_allclose(rerun_of(old), rerun_interval(values),
                               atol=0.02)


def test_gains_walks_arms_and_options_against_fixmatch():
    s = paired_summary([1.0, 2.0, 3.0])
    arm = dict(miou=s, minority=s, per_class=[s, s])
    run = dict(config=dict(tasks=['synthetic']), synthetic=dict(
        gains=dict(fixmatch=arm, class_weight=arm),
        options_vs_fixmatch=dict(class_weight=arm)))
    names = [name for name, _ in gains(run)]
    assert names == [
        f'synthetic/{a}/{g}' for a in ('fixmatch', 'class_weight',
                                       'class_weight-fixmatch')
        for g in ('mIoU', 'minority', 'class0', 'class1')]


def test_gains_absent_from_the_rerun_are_named(tmp_path, monkeypatch, capsys):
    import json

    import s4p_gain_compare
    s = paired_summary([1.0, 2.0, 3.0])
    arm = dict(miou=s, minority=s, per_class=[s])
    machine = dict(cpu_model='x', torch='t', onednn='o', threads=1)

    def run(arms):
        return dict(config=dict(tasks=['synthetic']), machine=machine,
                    synthetic=dict(gains={a: arm for a in arms}))

    ref, new = tmp_path / 'ref.json', tmp_path / 'new.json'
    ref.write_text(json.dumps(run(['fixmatch', 'class_weight'])))
    new.write_text(json.dumps(run(['fixmatch'])))
    monkeypatch.setattr(sys, 'argv', ['x', str(ref), str(new)])
    s4p_gain_compare.main()
    out = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert out['inside'] == 3  # fixmatch's mIoU, minority, class0
    assert out['not_in_rerun'] == [
        'synthetic/class_weight/mIoU', 'synthetic/class_weight/minority',
        'synthetic/class_weight/class0']
