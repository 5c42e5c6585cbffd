import os
import os.path as osp
import shutil
import warnings

from setuptools import find_packages, setup


def readme():
    with open('README.md', encoding='utf-8') as f:
        return f.read()


def get_version():
    scope = {}
    with open(osp.join('s5_mm', 'version.py')) as f:
        exec(compile(f.read(), 'version.py', 'exec'), scope)
    return scope['__version__']


def parse_requirements(fname='requirements/runtime.txt'):
    """Read a requirements file, dropping comments and blank lines."""
    reqs = []
    with open(fname) as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if line and not line.startswith('-'):
                reqs.append(line)
    return reqs


def add_mim_extension(mode=None):
    """Put configs/ and tools/ under s5_mm/.mim so that `mim` finds them.

    mim 0.3.9 runs ``<installed s5_mm>/.mim/tools/train.py``. Editable
    installs get symlinks, wheels (regular installs) get copies, as mmrotate.
    A wheel built from the source tree replaces the symlinks by copies, so
    ``tools/setup_env.sh`` calls ``add_mim_extension('symlink')`` again.

    Args:
        mode (str, optional): 'symlink' or 'copy'; None = from the setup.py
            command (``develop``/``editable_wheel`` or ``bdist_wheel``/
            ``sdist``/``install``).
    """
    import sys
    if mode is None:
        if 'develop' in sys.argv or 'editable_wheel' in sys.argv:
            mode = 'symlink'
        elif any(a in sys.argv for a in ('sdist', 'bdist_wheel', 'install')):
            mode = 'copy'
        else:
            return
    mim_path = osp.join('s5_mm', '.mim')
    os.makedirs(mim_path, exist_ok=True)
    for name in ('configs', 'tools'):
        src = osp.join(os.getcwd(), name)
        dst = osp.join(mim_path, name)
        if osp.islink(dst) or osp.isfile(dst):
            os.remove(dst)
        elif osp.isdir(dst):
            shutil.rmtree(dst)
        if not osp.exists(src):
            continue
        if mode == 'symlink':
            try:
                os.symlink(osp.relpath(src, mim_path), dst)
                continue
            except OSError:
                warnings.warn(f'could not symlink {src}, copying it instead')
        shutil.copytree(src, dst)


if __name__ == '__main__':
    add_mim_extension()
    setup(
        name='s5_mm',
        version=get_version(),
        description='S5 (scalable semi-supervised segmentation for remote-sensing '
        'foundation models) as an OpenMMLab 2.x extension',
        long_description=readme(),
        long_description_content_type='text/markdown',
        keywords='remote sensing, semi-supervised, segmentation, rotated detection, mixture of experts',
        packages=find_packages(exclude=('configs', 'tools', 'tests', 'bench', 'demo')),
        include_package_data=True,
        package_data={'s5_mm': ['.mim/configs/**/*', '.mim/tools/**/*']},
        python_requires='>=3.8',
        license='Apache License 2.0',
        install_requires=parse_requirements('requirements/runtime.txt'),
        extras_require={
            'all': parse_requirements('requirements/runtime.txt') + parse_requirements('requirements/optional.txt'),
            'tests': parse_requirements('requirements/tests.txt'),
            'optional': parse_requirements('requirements/optional.txt'),
            'mim': parse_requirements('requirements/mminstall.txt'),
        },
        zip_safe=False)
