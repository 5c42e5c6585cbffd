"""mmdet's MultiSourceSampler over mmdet's ConcatDataset of segmentation
datasets with unequal lengths and different classes, for two mocked ranks:
every batch has the configured per-dataset composition, the ranks draw
disjoint halves of every dataset's shuffled stream, and every sample of a
dataset is drawn equally often."""
from collections import Counter
from itertools import islice
from unittest import mock

import pytest
from mmengine.registry import DATA_SAMPLERS, DATASETS, init_default_scope

import s5_mm  # noqa: F401
from mdf_seg_utils import make_openearthmap, tiny_cfg

SAMPLER = 'mmdet.datasets.samplers.multi_source_sampler.get_dist_info'


@pytest.fixture(scope='module')
def concat(tmp_path_factory):
    # vaihingen 1, potsdam 1, loveda 3, openearthmap 5 images
    oem = make_openearthmap(str(tmp_path_factory.mktemp('oem')), num=5)
    cfg = tiny_cfg(oem)
    init_default_scope('mmseg')
    return DATASETS.build(cfg.train_dataloader.dataset)


def batches(dataset, rank, world, batch_size, ratio, n):
    with mock.patch(SAMPLER, return_value=(rank, world)):
        sampler = DATA_SAMPLERS.build(
            dict(type='mmdet.MultiSourceSampler', dataset=dataset,
                 batch_size=batch_size, source_ratio=ratio, seed=7))
    it = iter(sampler)
    return [list(islice(it, batch_size)) for _ in range(n)]


def source_of(dataset, idx):
    return dataset.get_dataset_source(idx)


def test_concat_keeps_every_datasets_classes(concat):
    assert [len(d) for d in concat.datasets] == [1, 1, 3, 5]
    assert [len(m['classes']) for m in concat.metainfo] == [6, 6, 7, 8]


def test_composition_for_two_ranks(concat):
    per_rank = {r: batches(concat, r, 2, 8, [1, 1, 1, 1], 30) for r in (0, 1)}
    for rank, bs in per_rank.items():
        for batch in bs:
            # 2 crops of each dataset, grouped in config order
            assert [source_of(concat, i) for i in batch] == \
                [0, 0, 1, 1, 2, 2, 3, 3]
    # over 30 batches each rank draws 60 crops per dataset; with the two
    # ranks together every sample of a dataset is drawn equally often
    for src, size in enumerate([1, 1, 3, 5]):
        start = concat.cumulative_sizes[src - 1] if src else 0
        drawn = Counter(
            i - start for r in (0, 1) for b in per_rank[r] for i in b
            if source_of(concat, i) == src)
        assert sorted(drawn) == list(range(size))
        assert set(drawn.values()) == {120 // size}
    # the ranks take alternate elements of the same shuffled stream
    single = batches(concat, 0, 1, 8, [1, 1, 1, 1], 30)
    stream = [i for b in single for i in b if source_of(concat, i) == 3]
    rank0 = [i for b in per_rank[0] for i in b if source_of(concat, i) == 3]
    rank1 = [i for b in per_rank[1] for i in b if source_of(concat, i) == 3]
    assert stream[0::2][:len(rank0)] == rank0[:len(stream[0::2])]
    assert stream[1::2][:len(rank1)] == rank1[:len(stream[1::2])]


def test_unequal_ratio(concat):
    for batch in batches(concat, 1, 2, 6, [1, 1, 1, 3], 5):
        assert Counter(source_of(concat, i) for i in batch) == \
            {0: 1, 1: 1, 2: 1, 3: 3}
