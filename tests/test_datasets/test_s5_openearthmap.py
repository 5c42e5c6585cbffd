"""S5OpenEarthMapDataset: the S5 authors' 9-class OpenEarthMap label set
(0 = unknown is a class), from label PNGs written here."""
import cv2
import numpy as np
import pytest
from mmseg.datasets.transforms import LoadAnnotations

from s5_mm.datasets.s5_openearthmap import S5OpenEarthMapDataset


def test_label_zero_is_a_class(tmp_path):
    for sub in ('img_dir/val', 'ann_dir/val'):
        (tmp_path / sub).mkdir(parents=True)
    label = np.arange(9, dtype=np.uint8).repeat(4).reshape(6, 6)
    cv2.imwrite(str(tmp_path / 'img_dir/val/a.png'),
                np.zeros((6, 6, 3), np.uint8))
    cv2.imwrite(str(tmp_path / 'ann_dir/val/a.png'), label)
    ds = S5OpenEarthMapDataset(
        data_root=str(tmp_path),
        data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val'),
        pipeline=[])
    assert len(ds.metainfo['classes']) == 9
    assert ds.metainfo['classes'][0] == 'unknown'
    assert ds.metainfo['classes'][1:] == (
        'bareland', 'rangeland', 'developed space', 'road', 'tree', 'water',
        'agriculture land', 'building')
    info = ds[0]
    assert info['reduce_zero_label'] is False
    loaded = LoadAnnotations()(dict(info, seg_fields=[]))['gt_seg_map']
    assert np.array_equal(loaded, label)  # values kept: 0..8


def test_reduce_zero_label_refused(tmp_path):
    with pytest.raises(ValueError, match='label 0 \\(unknown\\) is a class'):
        S5OpenEarthMapDataset(data_root=str(tmp_path),
                              reduce_zero_label=True, lazy_init=True)
