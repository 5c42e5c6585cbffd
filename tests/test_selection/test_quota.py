"""Quotas, redistribution and low-entropy-first selection on hand-made data."""
import numpy as np
import pytest

from s5_mm.selection.quota import (allocate, largest_remainder,
                                   rank_in_cluster, select_low_entropy)


def test_largest_remainder_hand_computed():
    # 10 * [5, 3, 2] / 10 = [5, 3, 2] exactly
    assert largest_remainder(10, np.array([5, 3, 2])).tolist() == [5, 3, 2]
    # 7 * [1, 1, 1] / 3 = 2.33 each: floors [2, 2, 2], one left -> cluster 0
    assert largest_remainder(7, np.ones(3)).tolist() == [3, 2, 2]
    # 10 * [1, 2, 4] / 7 = [1.43, 2.86, 5.71]: floors [1, 2, 5] (sum 8), the
    # two missing go to the largest fractions (.86 cluster 1, .71 cluster 2)
    assert largest_remainder(10, np.array([1, 2, 4])).tolist() == [1, 3, 6]
    with pytest.raises(ValueError, match='all quota weights are 0'):
        largest_remainder(3, np.zeros(2))


def test_allocate_redistributes_in_proportion_to_weights():
    # budget 12, weights [1, 1, 2] -> quotas [3, 3, 6]; cluster 0 has only
    # 1 candidate: 2 left over, split over clusters 1 and 2 by weights 1:2
    # -> 2 * [1/3, 2/3] = [0.67, 1.33]: floors [0, 1], the remaining one to
    # the larger fraction (0.67, cluster 1) -> fill [1, 4, 7]
    quota, fill = allocate(12, np.array([1, 1, 2]), np.array([1, 10, 10]))
    assert quota.tolist() == [3, 3, 6]
    assert fill.tolist() == [1, 4, 7]
    # cascading: budget 21, equal weights -> quotas [7, 7, 7]; cluster 0 is
    # empty, its 7 go to clusters 1, 2 (3.5 each: tie -> [4, 3]); cluster 1
    # has room for 1 only, so the 3 still missing go on to cluster 2
    quota, fill = allocate(21, np.ones(3), np.array([0, 8, 100]))
    assert quota.tolist() == [7, 7, 7]
    assert fill.tolist() == [0, 8, 13]
    quota, fill = allocate(12, np.array([1, 1, 2]), np.array([1, 3, 100]))
    assert fill.tolist() == [1, 3, 8]
    # budget larger than the pool: everything
    quota, fill = allocate(50, np.array([1, 1]), np.array([3, 4]))
    assert quota.tolist() == [25, 25] and fill.tolist() == [3, 4]
    # room only in a zero-weight cluster: split equally among such clusters
    quota, fill = allocate(6, np.array([1, 0, 0]), np.array([2, 3, 3]))
    assert quota.tolist() == [6, 0, 0] and fill.tolist() == [2, 2, 2]


def test_selection_equals_hand_computed_list():
    #                0    1    2    3    4    5    6    7    8    9
    entropy = np.array([.9, .1, .5, .3, .2, .8, .4, .1, .7, .6], np.float32)
    cluster = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 2])
    # equal weights, budget 7 -> quotas [3, 2, 2] (7/3: one extra to 0)
    res = select_low_entropy(entropy, cluster, 7, np.ones(3))
    assert res['quota'].tolist() == [3, 2, 2]
    # cluster 0 takes all 3 (0, 1, 2), cluster 1 the two lowest (4: .2,
    # 3: .3), cluster 2 the two lowest (7: .1, 6: .4)
    assert res['selected'].tolist() == [0, 1, 2, 3, 4, 6, 7]
    assert res['fill'].tolist() == [3, 2, 2]
    # budget 8 with weights [4, 2, 2] -> quotas [4, 2, 2]: cluster 0 has 3,
    # one left over goes to clusters 1 and 2 by weights 2:2 -> tie, lower
    # id wins -> cluster 1 takes its third (5: .8)
    res = select_low_entropy(entropy, cluster, 8, np.array([4, 2, 2]))
    assert res['quota'].tolist() == [4, 2, 2]
    assert res['fill'].tolist() == [3, 3, 2]
    assert res['selected'].tolist() == [0, 1, 2, 3, 4, 5, 6, 7]
    # ranks inside clusters by increasing entropy
    assert res['rank'].tolist() == [2, 0, 1, 1, 0, 2, 1, 0, 3, 2]


def test_ties_broken_by_pool_position():
    entropy = np.array([0.5, 0.5, 0.5, 0.1])
    cluster = np.array([0, 0, 0, 0])
    assert rank_in_cluster(entropy, cluster, 1).tolist() == [1, 2, 3, 0]
    res = select_low_entropy(entropy, cluster, 2, np.ones(1))
    assert res['selected'].tolist() == [0, 3]


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match='NaN'):
        rank_in_cluster(np.array([np.nan]), np.array([0]), 1)
    with pytest.raises(ValueError, match=r'cluster ids must be in \[0, 2\)'):
        rank_in_cluster(np.array([0.1]), np.array([2]), 2)
