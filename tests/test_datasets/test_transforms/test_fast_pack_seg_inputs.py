"""FastPackSegInputs packs exactly what mmseg's PackSegInputs packs."""
import numpy as np
import pytest
import torch
from mmseg.datasets.transforms import PackSegInputs

from s5_mm.datasets.transforms import FastPackSegInputs

RNG = np.random.default_rng(1)
BGR = RNG.integers(0, 256, (29, 31, 3), dtype=np.uint8)


@pytest.mark.parametrize('img', [
    BGR,
    np.flip(BGR, 1),
    BGR[2:20, 3:30],
    BGR[..., :1],
    BGR[..., 0],  # 2-D: mmseg's code
    BGR.astype(np.float32) / 7,
    BGR.astype(np.int64),  # not a cv2 dtype: mmseg's code
    RNG.integers(0, 256, (9, 8, 6), dtype=np.uint8),
])
@pytest.mark.parametrize('with_map', [True, False])
def test_same_packed_output(img, with_map):
    results = dict(img=img, img_path='a.png', ori_shape=(40, 40),
                   img_shape=img.shape[:2], flip=True,
                   flip_direction='horizontal', scale_factor=(0.5, 0.5),
                   reduce_zero_label=False, seg_map_path=None, other=3)
    if with_map:
        results['gt_seg_map'] = RNG.integers(0, 9, img.shape[:2],
                                             dtype=np.uint8)
    ref = PackSegInputs()(dict(results))
    out = FastPackSegInputs()(dict(results))
    assert list(out) == list(ref) == ['inputs', 'data_samples']
    assert out['inputs'].dtype == ref['inputs'].dtype
    assert out['inputs'].is_contiguous()
    assert torch.equal(out['inputs'], ref['inputs'])
    assert not np.shares_memory(out['inputs'].numpy(), img)
    sample, expected = out['data_samples'], ref['data_samples']
    assert sample.metainfo == expected.metainfo
    assert sample.keys() == expected.keys()
    if with_map:
        assert torch.equal(sample.gt_sem_seg.data, expected.gt_sem_seg.data)
        assert sample.gt_sem_seg.data.dtype == torch.int64


def test_meta_keys_and_no_image():
    results = dict(img=BGR, img_path='b.png', flip=False)
    out = FastPackSegInputs(meta_keys=('img_path', ))(results)
    assert out['data_samples'].metainfo == dict(img_path='b.png')
    no_img = FastPackSegInputs()(dict(img_path='c.png'))
    assert list(no_img) == ['data_samples']
