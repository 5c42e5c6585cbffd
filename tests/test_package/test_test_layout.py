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
               if m not in EXEMPT
               and not osp.isfile(osp.join(REPO, mirrored_test(m)))]
    assert missing == [], ('modules without their mirrored test file '
                           '(write it, or add the module to EXEMPT with a '
                           'reason):\n' + '\n'.join(missing))


def test_exempt_and_pending_entries_are_current():
    """A listed module that is gone, or that has its test by now, is a stale
    entry: remove it from the list."""
    modules = set(_modules())
    for module in sorted(EXEMPT):
        assert module in modules, f'{module}: no such module'
        assert not osp.isfile(osp.join(REPO, mirrored_test(module))), (
            f'{module} has {mirrored_test(module)}: remove it from '
            'EXEMPT')


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
