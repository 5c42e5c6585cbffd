"""s5_mm.utils.gpu_check.selector: the whole data selector on a small copy
of the bundled pools, and its verdict."""
import os
import os.path as osp
import shutil

import pytest

from s5_mm.selection import list_pool
from s5_mm.utils.gpu_check.selector import BUDGET, run_selector

UNLABELED = 'tests/data/unlabeled'


def _data_root(tmp_path, num_unlabeled):
    """``num_unlabeled`` bundled scenes and the 3 LoveDA crops."""
    root = tmp_path / 'data'
    os.makedirs(root / 'unlabeled')
    for name in list_pool(UNLABELED)[:num_unlabeled]:
        shutil.copy(osp.join(UNLABELED, name),
                    root / 'unlabeled' / name.replace('/', '_'))
    shutil.copytree('tests/data/loveda/img_dir', root / 'loveda' / 'img_dir')
    return str(root)


@pytest.mark.parametrize('num', [BUDGET + 1, BUDGET - 8])
def test_selector_path_on_the_cpu(tmp_path, num):
    out = run_selector('cpu', str(tmp_path / 'wd'), _data_root(tmp_path, num))
    assert out['images'] == num + 3 and out['candidates'] == num
    assert out['faiss_gpu'] is False and out['images_per_s'] > 0
    assert osp.isfile(tmp_path / 'wd' / 'selector' / 'selection' /
                      'split.txt')
    if num >= BUDGET:
        assert (out['status'], out['selected']) == ('ok', BUDGET)
    else:  # every candidate selected: fewer than the budget is a failure
        assert out['selected'] == num and out['status'] == 'failed'
        assert out['reason'] == f'{num} images selected for a budget of 10'
