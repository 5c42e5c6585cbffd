"""s5_mm.datasets.checks.report: one line per dataset and per finding, and
``report.json`` + the class histogram written without touching pyplot."""
import json

import numpy as np
from PIL import Image

from s5_mm.datasets.checks.report import report_lines, write_report


def test_report_lines_one_per_dataset_then_errors_then_warnings():
    report = dict(datasets={
        'train/a': dict(samples=3, type='LoveDADataset', where='w1',
                        errors=[dict(rule='label_value', file='x.png',
                                     message='bad')],
                        warnings=[dict(rule='no_objects', file='y.txt',
                                       message='empty')]),
        'val/b': dict(samples=0, type='DOTADataset', where='w2', errors=[],
                      warnings=[]),
    })
    assert report_lines(report) == [
        'train/a: 3 samples, 1 errors, 1 warnings (LoveDADataset, w1)',
        'val/b: 0 samples, 0 errors, 0 warnings (DOTADataset, w2)',
        'ERROR label_value x.png: bad',
        'WARNING no_objects y.txt: empty',
    ]


def test_unlabeled_only_report_writes_no_histogram(tmp_path):
    report = dict(datasets={'train/U': dict(
        samples=1, errors=[], warnings=[], type='U', where='cfg',
        kind='images')})
    paths = write_report(report, str(tmp_path / 'out'))
    assert paths == [str(tmp_path / 'out' / 'report.json')]
    assert json.load(open(paths[0])) == report
    assert sorted(p.name for p in (tmp_path / 'out').iterdir()) == [
        'report.json']


def test_report_leaves_the_callers_matplotlib_backend(tmp_path):
    """write_report draws on a Figure of its own: a notebook's backend is
    not switched to Agg behind its back (it was, with matplotlib.use)."""
    import matplotlib

    from s5_mm.datasets.checks.report import write_report
    report = dict(datasets={'train/X': dict(
        samples=2, errors=[], warnings=[], type='X', where='cfg',
        kind='seg', class_counts=dict(a=30, b=0, c=7))})
    before = matplotlib.get_backend()
    matplotlib.use('svg')
    try:
        paths = write_report(report, str(tmp_path))
        assert matplotlib.get_backend() == 'svg'
    finally:
        matplotlib.use(before)
    png = np.asarray(Image.open(paths[1]))
    assert png.shape[:2] == (224, 800)
    assert json.load(open(paths[0])) == report
