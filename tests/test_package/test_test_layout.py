"""The tests mirror the package (issue 21): every module
``s5_mm/<pkg>/.../<module>.py`` with behaviour has
``tests/test_<pkg>/.../test_<module>.py``, and every test module collects
under a name of its own."""
import os
import os.path as osp

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TESTS = osp.join(REPO, 'tests')

# modules without behaviour of their own: no mirrored test, and the reason
EXEMPT = {
    # only ``__version__ = '...'``; the version guard that reads it is
    # tested in tests/test_utils/test_compat.py
    's5_mm/version.py': 'a version string',
}

# the modules whose mirrored tests are written on branch h21mirA (issue 21,
# the apis / datasets / evaluation / models half). DELETE THIS SET when that
# branch is merged: the test below fails on every entry that has its test.
PENDING_OTHER_BRANCH = {
    's5_mm/apis/geo_export.py',
    's5_mm/apis/inference.py',
    's5_mm/apis/scene_progress.py',
    's5_mm/apis/scene_source.py',
    's5_mm/apis/visualization.py',
    's5_mm/datasets/checks/class_counts.py',
    's5_mm/datasets/checks/dataset_checker.py',
    's5_mm/datasets/checks/dataset_walk.py',
    's5_mm/datasets/checks/report.py',
    's5_mm/datasets/checks/rotated_labels.py',
    's5_mm/datasets/checks/seg_labels.py',
    's5_mm/datasets/dataset_lookup.py',
    's5_mm/datasets/label_png.py',
    's5_mm/datasets/transforms/semi_transforms.py',
    's5_mm/datasets/transforms/set_dataset_name.py',
    's5_mm/evaluation/in_process_tpfp.py',
    's5_mm/evaluation/multi_dataset_metrics.py',
    's5_mm/models/necks/feature2pyramid_ln.py',
    's5_mm/models/roi_heads/roi_extractors/extended_rotated_roi_extractor.py',
    's5_mm/models/segmentors/dataset_seg_branch.py',
    's5_mm/models/segmentors/multi_dataset_seg_tta_model.py',
}


def _modules():
    """Every module of the package (not ``__init__.py``), repo-relative."""
    found = []
    for folder, dirs, files in os.walk(osp.join(REPO, 's5_mm')):
        dirs[:] = [d for d in dirs if not d.startswith(('.', '__'))]
        found += [osp.relpath(osp.join(folder, f), REPO) for f in files
                  if f.endswith('.py') and f != '__init__.py']
    return sorted(found)


def mirrored_test(module: str) -> str:
    """``s5_mm/a/b/c.py`` -> ``tests/test_a/test_b/test_c.py``."""
    parts = module.split('/')[1:]
    return osp.join('tests', *(f'test_{p}' for p in parts))


def test_mirror_rule():
    assert mirrored_test('s5_mm/utils/gpu_check/report.py') == \
        'tests/test_utils/test_gpu_check/test_report.py'
    assert mirrored_test('s5_mm/version.py') == 'tests/test_version.py'


def test_every_module_has_its_mirrored_test():
    modules = _modules()
    assert len(modules) > 80  # the walk found the package
    missing = [f'{m} -> {mirrored_test(m)}' for m in modules
               if m not in EXEMPT and m not in PENDING_OTHER_BRANCH
               and not osp.isfile(osp.join(REPO, mirrored_test(m)))]
    assert missing == [], ('modules without their mirrored test file '
                           '(write it, or add the module to EXEMPT with a '
                           'reason):\n' + '\n'.join(missing))


def test_exempt_and_pending_entries_are_current():
    """A listed module that is gone, or that has its test by now, is a stale
    entry: remove it from the list."""
    modules = set(_modules())
    for module in sorted(set(EXEMPT) | PENDING_OTHER_BRANCH):
        assert module in modules, f'{module}: no such module'
        assert not osp.isfile(osp.join(REPO, mirrored_test(module))), (
            f'{module} has {mirrored_test(module)}: remove it from '
            'EXEMPT / PENDING_OTHER_BRANCH')
    assert not set(EXEMPT) & PENDING_OTHER_BRANCH


def _import_name(path: str) -> str:
    """The module name pytest's default (prepend) import mode gives a test
    file: its basename, prefixed by every parent folder that holds an
    ``__init__.py``."""
    folder, name = osp.split(path)
    parts = [name[:-3]]
    while osp.isfile(osp.join(folder, '__init__.py')):
        folder, package = osp.split(folder)
        parts.insert(0, package)
    return '.'.join(parts)


def test_test_modules_collect_under_distinct_names():
    """tests/ is not a package (site-packages has a ``tests`` package);
    files of the same basename (``test_report.py`` of converters, selection
    and gpu_check) are told apart by ``__init__.py`` in their folders.
    The helpers of tests/utils are imported by bare name too."""
    assert not osp.isfile(osp.join(TESTS, '__init__.py'))
    names = {}
    for folder, dirs, files in os.walk(TESTS):
        dirs[:] = [d for d in dirs if d != 'data' and not d.startswith(
            ('.', '__'))]
        for f in files:
            if f.endswith('.py') and (f.startswith('test_')
                                      or folder == osp.join(TESTS, 'utils')):
                path = osp.join(folder, f)
                names.setdefault(_import_name(path), []).append(
                    osp.relpath(path, REPO))
    clashes = {n: p for n, p in names.items() if len(p) > 1}
    assert clashes == {}, ('test modules with the same import name: add an '
                           f'empty __init__.py to their folders: {clashes}')
    assert names['test_utils.test_gpu_check.test_report'] == [
        'tests/test_utils/test_gpu_check/test_report.py']


def test_helpers_live_in_tests_utils():
    """Shared builders are in one place: tests/ itself holds only the
    conftest."""
    loose = sorted(f for f in os.listdir(TESTS) if f.endswith('.py'))
    assert loose == ['conftest.py']
