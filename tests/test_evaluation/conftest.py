"""The raw DOTA scene P1888 (tests/data/dota_raw: 712 x 557 px, header lines,
64 objects) split by mmrotate's own split tool into 12 overlapping 256 px
patches (step 192), and read back through mmrotate's DOTAv2Dataset."""
import os.path as osp

import numpy as np
import pytest

from dota_split_utils import split_p1888

RAW = osp.join('tests', 'data', 'dota_raw')
SCENE = 'P1888'


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
    return split_p1888(str(tmp_path_factory.mktemp('split') / 'p1888'),
                       size=256, gap=64)


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
