"""The raw DOTA scene P1888 (tests/data/dota_raw: 712 x 557 px, header lines,
64 objects) split by mmrotate's own split tool into 12 overlapping 256 px
patches (step 192), and read back through mmrotate's DOTAv2Dataset."""
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest

RAW = osp.join('tests', 'data', 'dota_raw')
SCENE = 'P1888'


def split_tool() -> str:
    """mmrotate's ``tools/data/dota/split/img_split.py`` as installed with
    the package (mim keeps the tools under ``mmrotate/.mim``)."""
    import mmrotate
    path = osp.join(osp.dirname(mmrotate.__file__), '.mim', 'tools', 'data',
                    'dota', 'split', 'img_split.py')
    assert osp.isfile(path), f"mmrotate's split tool is not at {path}"
    return path


def raw_scene(path: str = osp.join(RAW, 'labelTxt', f'{SCENE}.txt')):
    """The scene's objects read here, independently of s5_mm: (64, 8)
    polygons and class names, the two header lines skipped."""
    with open(path) as f:
        lines = f.read().splitlines()
    assert lines[0].startswith('imagesource:') and lines[1].startswith('gsd:')
    fields = [line.split() for line in lines[2:] if line.strip()]
    polys = np.array([[float(v) for v in f[:8]] for f in fields])
    return polys, [f[8] for f in fields]


@pytest.fixture(scope='session')
def p1888_split(tmp_path_factory):
    """The split folder (``images/``, ``annfiles/``) of the raw scene."""
    out = str(tmp_path_factory.mktemp('split') / 'p1888')
    subprocess.run(
        [sys.executable, split_tool(), '--img-dirs', osp.join(RAW, 'images'),
         '--ann-dirs', osp.join(RAW, 'labelTxt'), '--sizes', '256',
         '--gaps', '64', '--nproc', '1', '--save-dir', out],
        check=True, capture_output=True)
    return out


@pytest.fixture(scope='session')
def p1888_patches(p1888_split):
    """The 12 patches through mmrotate's DOTAv2Dataset (labels as
    rotated boxes, in patch coordinates): a list of DetDataSamples."""
    from mmengine.registry import init_default_scope
    from mmrotate.registry import DATASETS

    import s5_mm  # noqa: F401 (registers FullSceneDOTAMetric)
    init_default_scope('mmrotate')
    dataset = DATASETS.build(dict(
        type='DOTAv2Dataset', data_root=p1888_split, ann_file='annfiles/',
        data_prefix=dict(img_path='images/'), test_mode=True,
        pipeline=[
            dict(type='mmdet.LoadAnnotations', with_bbox=True,
                 box_type='qbox'),
            dict(type='ConvertBoxType',
                 box_type_mapping=dict(gt_bboxes='rbox')),
            dict(type='mmdet.PackDetInputs', meta_keys=('img_id', 'img_path'))
        ]))
    samples = [dataset[i]['data_samples'] for i in range(len(dataset))]
    return dataset.metainfo, samples
