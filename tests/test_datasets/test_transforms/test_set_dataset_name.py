"""s5_mm.datasets.transforms.set_dataset_name.SetDatasetName: the name in
the packed sample's metainfo (after packing) or in the results (before)."""
import numpy as np
import pytest
from mmseg.registry import TRANSFORMS
from mmseg.structures import SegDataSample

import s5_mm  # noqa: F401


def test_after_packing_sets_the_sample_metainfo():
    t = TRANSFORMS.build(dict(type='SetDatasetName', name='potsdam'))
    sample = SegDataSample(metainfo=dict(img_path='a.png'))
    out = t(dict(inputs=np.zeros(1), data_samples=sample))
    assert out['data_samples'] is sample
    assert sample.metainfo == dict(img_path='a.png', dataset_name='potsdam')
    assert 'dataset_name' not in out
    assert repr(t) == "SetDatasetName(name='potsdam')"


def test_before_packing_sets_the_results_key():
    from mmdet.registry import TRANSFORMS as DET_TRANSFORMS
    t = DET_TRANSFORMS.build(dict(type='SetDatasetName', name='dota'))
    assert t(dict(img=np.zeros(1)))['dataset_name'] == 'dota'


@pytest.mark.parametrize('name', ['', None, 3])
def test_name_must_be_a_non_empty_str(name):
    with pytest.raises(ValueError, match='non-empty str name'):
        TRANSFORMS.build(dict(type='SetDatasetName', name=name))
