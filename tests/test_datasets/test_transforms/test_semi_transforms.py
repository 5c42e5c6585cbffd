"""s5_mm.datasets.transforms.semi_transforms.LoadIgnoreMask: an all-valid
map at the image's size, moved and padded with the image afterwards."""
import numpy as np
import pytest
from mmseg.registry import TRANSFORMS

import s5_mm  # noqa: F401


def test_all_valid_map_at_the_image_size():
    t = TRANSFORMS.build(dict(type='LoadIgnoreMask', valid_value=3))
    results = t(dict(img=np.zeros((5, 7, 3), np.uint8),
                     seg_fields=['gt_seg_map']))
    assert results['gt_seg_map'].dtype == np.uint8
    np.testing.assert_array_equal(results['gt_seg_map'],
                                  np.full((5, 7), 3, np.uint8))
    assert results['seg_fields'] == ['gt_seg_map']  # not added twice
    assert repr(t) == 'LoadIgnoreMask(valid_value=3)'
    with pytest.raises(ValueError, match=r'\[0, 254\].*got 255'):
        TRANSFORMS.build(dict(type='LoadIgnoreMask', valid_value=255))


def test_padding_after_it_is_ignore():
    """mmseg's Pad pads the map with 255 where it pads the image."""
    from mmengine.registry import init_default_scope
    init_default_scope('mmseg')
    pipeline = [TRANSFORMS.build(dict(type='LoadIgnoreMask')),
                TRANSFORMS.build(dict(type='mmdet.Pad', size=(8, 6),
                                      pad_val=dict(img=0, seg=255)))]
    results = dict(img=np.ones((4, 5, 3), np.uint8))
    for t in pipeline:
        results = t(results)
    expected = np.full((6, 8), 255, np.uint8)
    expected[:4, :5] = 0
    np.testing.assert_array_equal(results['gt_seg_map'], expected)
