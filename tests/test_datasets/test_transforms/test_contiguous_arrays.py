"""ContiguousArrays: C-contiguous copies equal to the strided views."""
import numpy as np
import pytest

from s5_mm.datasets.transforms import ContiguousArrays
from s5_mm.datasets.transforms.contiguous_arrays import contiguous

RNG = np.random.default_rng(0)
BIG = RNG.integers(0, 256, (37, 41, 3), dtype=np.uint8)


@pytest.mark.parametrize('view', [
    np.flip(BIG[3:30, 5:33], 1),
    np.flip(BIG[3:30, 5:33], 0),
    np.flip(BIG[3:30, 5:33], (0, 1)),
    BIG[3:30, 5:33],
    BIG[..., ::-1],  # channel reversal: numpy's copy
    np.flip(BIG[..., :1], 1),  # one channel
    np.flip(BIG[..., 0], 1),  # 2-D map
    np.flip(BIG.astype(np.float32), (0, 1)),
    np.flip(BIG.astype(np.int64), 1),  # not a cv2 dtype: numpy's copy
    np.flip(RNG.integers(0, 9, (6, 7, 5), dtype=np.uint8), 1),
])
def test_contiguous_equals_the_view(view):
    out = contiguous(view)
    assert out.flags.c_contiguous
    assert out.dtype == view.dtype and out.shape == view.shape
    np.testing.assert_array_equal(out, view)
    assert not np.shares_memory(out, BIG)


def test_transform_img_seg_fields_and_keys():
    mask = RNG.integers(0, 5, (37, 41), dtype=np.uint8)
    already = np.zeros((4, 4), np.uint8)
    results = dict(img=np.flip(BIG, 1), gt_seg_map=np.flip(mask, (0, 1)),
                   seg_fields=['gt_seg_map'], extra=np.flip(mask, 1),
                   other=np.flip(mask, 1), done=already)
    out = ContiguousArrays(keys=['extra', 'done', 'absent'])(dict(results))
    for key in ('img', 'gt_seg_map', 'extra'):
        assert out[key].flags.c_contiguous, key
        np.testing.assert_array_equal(out[key], results[key])
    assert out['other'] is results['other']  # not asked for
    assert out['done'] is already  # contiguous already: no copy
    assert 'absent' not in out
