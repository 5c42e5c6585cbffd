"""s5_mm.evaluation.in_process_tpfp: mmrotate's eval_rbbox_map without a
process pool, same numbers (an 11-point AP computed by hand), mmrotate's
pool restored on leaving the block, also on an error."""
import multiprocessing
import os

import numpy as np
import pytest

from s5_mm.evaluation.in_process_tpfp import in_process_tpfp


def test_hand_computed_ap_without_a_pool():
    from mmrotate.evaluation.functional import eval_rbbox_map, mean_ap
    gt = np.array([[10, 10, 8, 4, 0.], [40, 40, 8, 4, 0.5]], np.float32)
    dets = np.array([[10, 10, 8, 4, 0., .9],     # TP
                     [70, 70, 8, 4, 0., .8],     # FP
                     [40, 40, 8, 4, 0.5, .7]],   # TP
                    np.float32)
    ann = dict(bboxes=gt, labels=np.zeros(2, np.int64),
               bboxes_ignore=np.zeros((0, 5), np.float32),
               labels_ignore=np.zeros(0, np.int64))
    with in_process_tpfp():
        assert mean_ap.get_context is not multiprocessing.get_context
        pool = mean_ap.get_context('spawn').Pool(4)
        assert pool.starmap(lambda a, b: (a + b, os.getpid()),
                            [(1, 2), (3, 4)]) == [(3, os.getpid()),
                                                  (7, os.getpid())]
        mean, _ = eval_rbbox_map([[dets]], [ann], iou_thr=0.5,
                                 use_07_metric=True, nproc=4)
    assert mean_ap.get_context is multiprocessing.get_context
    # precision / recall: (1, .5), (.5, .5), (2/3, 1); 11-point AP: recall
    # thresholds 0 .. .5 (6) have precision 1, .6 .. 1 (5) have 2/3
    assert mean == pytest.approx((6 * 1 + 5 * 2 / 3) / 11, abs=1e-6)


def test_pool_restored_after_an_error():
    from mmrotate.evaluation.functional import mean_ap
    with pytest.raises(ZeroDivisionError):
        with in_process_tpfp():
            1 / 0
    assert mean_ap.get_context is multiprocessing.get_context
