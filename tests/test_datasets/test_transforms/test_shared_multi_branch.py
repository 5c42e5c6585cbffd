"""SharedMultiBranch: mmdet MultiBranch's outputs without array copies."""
import random

import numpy as np
import pytest
import torch
from mmcv.transforms import BaseTransform
from mmdet.datasets.transforms import MultiBranch
from mmengine.registry import init_default_scope
from mmseg.registry import TRANSFORMS

from s5_mm.datasets.transforms import SharedMultiBranch

BRANCHES = ['sup', 'unsup_teacher', 'unsup_student']
STRONG = [
    dict(type='RandomApply', prob=0.8, transforms=[
        dict(type='AlbuColorJitter', brightness=0.5, contrast=0.5,
             saturation=0.5, hue=0.25)]),
    dict(type='FastRandomGrayscale', prob=0.5, keep_channels=True),
    dict(type='RandomFlip', prob=0.5),  # moves the map too
    dict(type='PackSegInputs'),
]


@TRANSFORMS.register_module(force=True)
class _AppendField(BaseTransform):
    """Changes a list of the results in place (must not leak)."""

    def transform(self, results):
        results['seg_fields'].append('other')
        results['scale'][0] = -1
        return results


def _results(seed):
    rng = np.random.default_rng(seed)
    return dict(img=rng.integers(0, 256, (20, 24, 3), dtype=np.uint8),
                gt_seg_map=rng.integers(0, 3, (20, 24), dtype=np.uint8),
                seg_fields=['gt_seg_map'], scale=[24, 20], img_path='x.png',
                img_shape=(20, 24), ori_shape=(20, 24))


def test_same_outputs_and_draws_as_multibranch():
    init_default_scope('mmseg')
    branches = dict(unsup_teacher=[dict(type='_AppendField'),
                                   dict(type='PackSegInputs')],
                    unsup_student=STRONG, unsup_student2=STRONG)
    field = BRANCHES + ['unsup_student2']
    new = SharedMultiBranch(branch_field=field, **branches)
    old = MultiBranch(branch_field=field, **branches)
    for seed in range(20):
        results = _results(seed)
        img, gt = results['img'].copy(), results['gt_seg_map'].copy()
        outs = []
        for wrapper in (new, old):
            np.random.seed(seed)
            random.seed(seed)
            outs.append(wrapper(_results(seed)))
            outs.append((np.random.rand(), random.random()))  # next draws
        got, ref = outs[0], outs[2]
        assert outs[1] == outs[3]  # both drew the same numbers
        assert list(got) == list(ref) and list(got['inputs']) == field
        assert got['inputs']['sup'] is None and ref['inputs']['sup'] is None
        for branch in field[1:]:
            assert torch.equal(got['inputs'][branch], ref['inputs'][branch])
            a, b = got['data_samples'][branch], ref['data_samples'][branch]
            assert a.metainfo == b.metainfo
            assert torch.equal(a.gt_sem_seg.data, b.gt_sem_seg.data)
        # the input arrays are unchanged and stay writable
        shared = _results(seed)
        new(shared)
        np.testing.assert_array_equal(shared['img'], img)
        np.testing.assert_array_equal(shared['gt_seg_map'], gt)
        assert shared['img'].flags.writeable
        assert shared['seg_fields'] == ['gt_seg_map']
        assert shared['scale'] == [24, 20]


def test_in_place_transform_fails_naming_the_branch():
    init_default_scope('mmseg')
    cutout = [dict(type='RandomCutOut', prob=1., n_holes=1,
                   cutout_shape=(4, 4)),
              dict(type='PackSegInputs')]
    wrapper = SharedMultiBranch(branch_field=BRANCHES,
                                unsup_teacher=[dict(type='PackSegInputs')],
                                unsup_student=cutout)
    results = _results(0)
    img = results['img'].copy()
    with pytest.raises(ValueError, match="branch 'unsup_student'.*x.png"):
        wrapper(results)
    np.testing.assert_array_equal(results['img'], img)
    # mmdet's wrapper copies, so the same branch works there
    MultiBranch(branch_field=BRANCHES, unsup_student=cutout)(_results(0))


@TRANSFORMS.register_module(force=True)
class _Drop(BaseTransform):

    def transform(self, results):
        return None


def test_a_branch_returning_none_returns_none():
    init_default_scope('mmseg')
    wrapper = SharedMultiBranch(branch_field=BRANCHES,
                                unsup_teacher=[dict(type='_Drop')])
    assert wrapper(_results(0)) is None
