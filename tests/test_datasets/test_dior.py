"""StrictDIORDataset: mmrotate's DIOR-R loader, with every XML object
checked first by the rules of the dataset checker. Malformed objects,
unknown and badly spelt class names and nan coordinates stop with the file
and object named (mmrotate: AttributeError / KeyError / a nan box); names
mmrotate accepts (other case) load as mmrotate loads them."""
import os.path as osp
import shutil

import numpy as np
import pytest
from mmrotate.registry import DATASETS

XML = 'Annotations/Oriented Bounding Boxes'


@pytest.fixture
def dior(tmp_path, data_root):
    root = tmp_path / 'dior'
    shutil.copytree(osp.join(data_root, 'dior'), root)
    return root


def _build(root, kind='StrictDIORDataset'):
    return DATASETS.build(dict(type=kind, data_root=str(root),
                               ann_file='demo.txt',
                               data_prefix=dict(img_path='JPEGImage'),
                               pipeline=[]))


def _edit(root, old, new):
    path = root / XML / '00001.xml'
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    return path


def test_bundled_xml_loads_like_mmrotate(moe_cfg, dior):
    ours, ref = _build(dior), _build(dior, 'DIORDataset')
    assert len(ours) == len(ref) == 1
    a, b = ours.get_data_info(0), ref.get_data_info(0)
    assert a['instances'][0]['bbox_label'] == 9  # golffield
    np.testing.assert_array_equal(a['instances'][0]['bbox'],
                                  b['instances'][0]['bbox'])


def test_other_case_is_the_same_class_as_in_mmrotate(moe_cfg, dior):
    _edit(dior, '<name>golffield</name>',
          '<name>Expressway-Service-area</name>')
    ours, ref = _build(dior), _build(dior, 'DIORDataset')
    label = ours.get_data_info(0)['instances'][0]['bbox_label']
    assert label == ref.get_data_info(0)['instances'][0]['bbox_label'] == 6


@pytest.mark.parametrize('old, new, match', [
    ('<robndbox>', '<bndbox>', r'object 1 \(<name>golffield</name>\): '
     'needs <name> and <robndbox>'),
    ('<name>golffield</name>', '<name>aeroplane</name>',
     "unknown class 'aeroplane' in .*object 1"),
    ('<name>golffield</name>', '<name>golffield </name>',
     "unknown class 'golffield ' .*surrounding whitespace"),
    ('<y_right_top>237', '<y_right_top>nan', r'non-finite coordinate'),
])
def test_bad_object_names_file_and_object(moe_cfg, dior, old, new, match):
    path = _edit(dior, old, new)
    if new.endswith('</bndbox>') or new == '<bndbox>':
        _edit(dior, '</robndbox>', '</bndbox>')
    with pytest.raises(ValueError, match=match) as err:
        _build(dior)
    assert f'{path}, object 1' in str(err.value)
