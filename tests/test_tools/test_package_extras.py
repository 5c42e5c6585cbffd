"""The package's extras (``pip install "s5_mm[all]"`` and friends), resolved
by pip itself against the installed stack (``--dry-run --report``): they add
packages but never change one the stack runs on, and pull in neither a
second faiss nor openmim's openxlab (which downgrades setuptools, rich, tqdm
and requests)."""
import importlib.metadata
import json
import subprocess
import sys

import pytest
from packaging.utils import canonicalize_name

FORBIDDEN = {'faiss-gpu', 'openxlab', 'opendatalab'}


@pytest.mark.parametrize('extra', ['all', 'optional', 'tests'])
def test_extra_adds_without_changing_the_stack(extra, tmp_path, repo_root):
    report = tmp_path / 'report.json'
    proc = subprocess.run(
        [sys.executable, '-m', 'pip', 'install', '--dry-run', '-q',
         '--report', str(report), '-c', 'requirements/constraints.txt',
         f'.[{extra}]'], cwd=repo_root, capture_output=True, text=True,
        timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    planned = {canonicalize_name(i['metadata']['name']):
               i['metadata']['version']
               for i in json.loads(report.read_text())['install']}
    assert planned.pop('s5-mm') is not None  # the package itself
    assert not FORBIDDEN & set(planned), planned
    changed = {}
    for name, version in planned.items():
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue  # a new package: fine
        changed[name] = (installed, version)
    assert not changed, f'the extra would change installed packages: {changed}'
