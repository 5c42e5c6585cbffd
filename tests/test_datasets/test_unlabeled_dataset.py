"""Unlabeled dataset, ignore mask / padding, and the batch composition of the
demo's MultiSourceSampler over a ConcatDataset, for two mocked ranks."""
import copy
import os.path as osp
from unittest import mock

import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS, DATA_SAMPLERS, MODELS, TRANSFORMS

from s4p_utils import real_batches

UNLABELED = 'tests/data/unlabeled'


def _unlabeled(**kwargs):
    init_default_scope('mmseg')
    return DATASETS.build(dict(type='UnlabeledImageDataset',
                               data_root=UNLABELED, **kwargs))


def test_folder_is_read_recursively():
    ds = _unlabeled()
    paths = [ds[i]['img_path'] for i in range(len(ds))]
    assert len(ds) == 72  # 7 class folders x 10 scenes + 2 images at the top
    assert osp.join(UNLABELED, 'aGrass', 'a001.jpg') in paths
    assert osp.join(UNLABELED, 'demo.jpg') in paths
    assert paths == sorted(paths)


def test_split_file(tmp_path):
    split = tmp_path / 'split.txt'
    split.write_text('# selected\naGrass/a001.jpg\n\ngParking/g010.jpg\n')
    ds = _unlabeled(ann_file=str(split))
    assert [ds[i]['img_path'] for i in range(len(ds))] == [
        osp.join(UNLABELED, 'aGrass/a001.jpg'),
        osp.join(UNLABELED, 'gParking/g010.jpg')
    ]


def test_split_file_missing_image_names_file_and_line(tmp_path):
    """The build opens no image (issue 26); loading a missing one is the
    error naming the split file and line."""
    split = tmp_path / 'split.txt'
    split.write_text('aGrass/a001.jpg\naGrass/nope.jpg\n')
    ds = _unlabeled(ann_file=str(split),
                    pipeline=[dict(type='LoadImageFromFile')])
    assert len(ds) == 2 and ds[0]['img'].shape == (400, 400, 3)
    with pytest.raises(FileNotFoundError) as err:
        ds[1]
    assert f'{split}:2' in str(err.value) and 'aGrass/nope.jpg' in str(err.value)
    assert 'does not exist' in str(err.value)
    with pytest.raises(FileNotFoundError, match='split file'):
        _unlabeled(ann_file=str(tmp_path / 'absent.txt'))


def test_build_opens_no_image(tmp_path, monkeypatch):
    """1000 listed files that do not exist: the build reads the split file
    only (no per-line existence check) and keeps the paths packed."""
    split = tmp_path / 'split.txt'
    names = [f'x/{i:04d}.jpg' for i in range(1000)]
    split.write_text('\n'.join(names) + '\n')
    from mmengine import fileio
    calls = []
    monkeypatch.setattr(fileio, 'exists', lambda *a, **k: calls.append(a))
    ds = _unlabeled(ann_file=str(split))
    assert calls == [] and len(ds) == 1000
    assert ds.data_bytes.nbytes == sum(len(n) for n in names) == 10000
    assert ds.data_address.nbytes == 8000
    assert ds.get_data_info(-1) == dict(
        img_path=osp.join(UNLABELED, 'x/0999.jpg'), seg_fields=[],
        reduce_zero_label=False, sample_idx=999)
    sub = ds.get_subset([5, 7])
    assert [sub.get_data_info(i)['img_path'] for i in range(2)] == [
        osp.join(UNLABELED, 'x/0005.jpg'), osp.join(UNLABELED, 'x/0007.jpg')]
    part = _unlabeled(ann_file=str(split), indices=[3, 1])
    assert [d['img_path'][-6:] for d in part.load_data_list()] == [
        '03.jpg', '01.jpg']


def _bad_split(tmp_path):
    """Line 3 undecodable, line 4 missing."""
    (tmp_path / 'img').mkdir()
    (tmp_path / 'img' / 'bad.jpg').write_bytes(b'not a jpeg')
    split = tmp_path / 'split.txt'
    good = osp.abspath(osp.join(UNLABELED, 'aGrass/a001.jpg'))
    split.write_text(f'# two bad\n{good}\nbad.jpg\nmissing.jpg\n')
    return split


def test_undecodable_image_names_its_line(tmp_path):
    split = _bad_split(tmp_path)
    ds = DATASETS.build(dict(
        type='UnlabeledImageDataset', ann_file=str(split),
        data_prefix=dict(img_path=str(tmp_path / 'img')),
        pipeline=[dict(type='LoadImageFromFile')]))
    assert ds[0]['img'].shape == (400, 400, 3)  # an absolute path is kept
    with pytest.raises(OSError, match=f'bad.jpg cannot be decoded .*'
                       f'listed on {split}:3'):
        ds[1]
    with pytest.raises(FileNotFoundError, match=f'listed on {split}:4'):
        ds[2]


def test_skip_unreadable_draws_another_and_counts(tmp_path):
    split = _bad_split(tmp_path)
    ds = DATASETS.build(dict(
        type='UnlabeledImageDataset', ann_file=str(split),
        data_prefix=dict(img_path=str(tmp_path / 'img')),
        skip_unreadable=True, pipeline=[dict(type='LoadImageFromFile')]))
    np.random.seed(0)
    for i in (1, 2, 1):
        assert ds[i]['img_path'].endswith('aGrass/a001.jpg')
    assert ds.num_skipped >= 3  # the random redraws may hit a bad one too
    ds_test = DATASETS.build(dict(
        type='UnlabeledImageDataset', ann_file=str(split), test_mode=True,
        data_prefix=dict(img_path=str(tmp_path / 'img')),
        skip_unreadable=True, pipeline=[dict(type='LoadImageFromFile')]))
    with pytest.raises(OSError, match='listed on'):
        ds_test[1]  # nothing is skipped at test time


def test_pipeline_errors_are_not_taken_for_bad_files(tmp_path):
    split = tmp_path / 'split.txt'
    split.write_text('aGrass/a001.jpg\n')

    def broken(results):
        raise KeyError('a transform bug')

    ds = _unlabeled(ann_file=str(split), skip_unreadable=True,
                    pipeline=[dict(type='LoadImageFromFile'), broken])
    with pytest.raises(KeyError, match='a transform bug'):
        ds[0]  # raised as it is: the image reads fine
    assert ds.num_skipped == 0


def test_padding_is_marked_ignore_in_both_views(demo_cfg):
    """An image smaller than the crop is padded; the weak view's gt_sem_seg
    marks exactly the padded pixels with 255, identically in both views."""
    init_default_scope('mmseg')
    unlabeled = demo_cfg.train_dataloader.dataset.datasets[1]
    pipeline = copy.deepcopy(unlabeled.pipeline)
    pipeline[2] = dict(type='Resize', scale=(40, 40), keep_ratio=True)
    ds = DATASETS.build(dict(unlabeled, pipeline=pipeline))
    labeled = DATASETS.build(demo_cfg.train_dataloader.dataset.datasets[0])
    batch = pseudo_collate([labeled[0], ds[0], ds[1]])
    pre = MODELS.build(demo_cfg.model.data_preprocessor)
    data = pre(batch, training=True)
    model_in = data['inputs']
    assert model_in['unsup_teacher'].shape == (2, 3, 64, 64)
    for branch in ('unsup_teacher', 'unsup_student'):
        seg = torch.stack([s.gt_sem_seg.data[0]
                           for s in data['data_samples'][branch]])
        expected = torch.full((2, 64, 64), 255, dtype=seg.dtype)
        expected[:, :40, :40] = 0
        assert torch.equal(seg, expected)
    # padded image pixels are 0 in both views
    assert model_in['unsup_student'][:, :, 40:, :].abs().sum() == 0


def test_load_ignore_mask_follows_geometry():
    init_default_scope('mmseg')
    img = np.zeros((10, 20, 3), np.uint8)
    out = TRANSFORMS.build(dict(type='LoadIgnoreMask'))(dict(img=img))
    assert out['gt_seg_map'].shape == (10, 20) and out['gt_seg_map'].max() == 0
    assert out['seg_fields'] == ['gt_seg_map']
    with pytest.raises(ValueError, match='valid_value'):
        TRANSFORMS.build(dict(type='LoadIgnoreMask', valid_value=255))


@pytest.mark.parametrize('rank', [0, 1])
def test_sampler_batch_composition_two_ranks(demo_cfg, rank):
    init_default_scope('mmseg')
    loader_cfg = demo_cfg.train_dataloader
    dataset = DATASETS.build(copy.deepcopy(loader_cfg.dataset))
    n_lab = len(dataset.datasets[0])
    sampler_cfg = dict(copy.deepcopy(loader_cfg.sampler), seed=0)
    path = 'mmdet.datasets.samplers.multi_source_sampler.get_dist_info'

    def batches(r):
        with mock.patch(path, return_value=(r, 2)):
            sampler = DATA_SAMPLERS.build(sampler_cfg,
                                          default_args=dict(dataset=dataset))
        it = iter(sampler)
        return [[next(it) for _ in range(4)] for _ in range(12)]

    mine, other = batches(rank), batches(1 - rank)
    for batch in mine:  # 2 labeled then 2 unlabeled, every batch
        assert all(i < n_lab for i in batch[:2])
        assert all(i >= n_lab for i in batch[2:])
    # the two ranks split the unlabeled set: the first pass over it has no
    # image in common (72 images, 36 per rank, 24 drawn here)
    unl = {i for b in mine for i in b[2:]}
    unl_other = {i for b in other for i in b[2:]}
    assert len(unl) == 24 and not unl & unl_other


def test_real_batch_has_fixed_composition(demo_cfg):
    data = real_batches(demo_cfg)[0]
    counts = {k: sum(x is not None for x in v)
              for k, v in data['inputs'].items()}
    assert counts == {'sup': 2, 'unsup_teacher': 2, 'unsup_student': 2}
    weak = [s for s in data['data_samples']['unsup_teacher'] if s is not None]
    strong = [s for s in data['data_samples']['unsup_student']
              if s is not None]
    # both views of an image come from the same file with the same geometry
    for w, s in zip(weak, strong):
        assert w.img_path == s.img_path and w.img_path.startswith(UNLABELED)
        assert w.flip == s.flip and w.img_shape == s.img_shape
