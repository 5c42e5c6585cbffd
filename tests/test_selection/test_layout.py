"""s5_mm.selection.layout: the work-dir folders, shard names and ranges,
and the error naming a missing input and the step that writes it."""
import os
import os.path as osp

import pytest

from s5_mm.selection.layout import (SHARD_FILES, SelectionWorkDir,
                                    num_shards_of, require_input, shard_done,
                                    shard_prefix, shard_range)


def test_work_dir_folders():
    work = SelectionWorkDir.of('/w/iter_4')
    assert work == ('/w/iter_4/unlabeled', '/w/iter_4/labeled',
                    '/w/iter_4/clusters', '/w/iter_4/selection')
    assert work.clusters == '/w/iter_4/clusters'


def test_shards_cover_the_pool_once():
    assert shard_prefix('/s', 42) == '/s/shards/000042'
    assert [num_shards_of(n, 8) for n in (0, 1, 8, 9, 72, 73)] == \
        [1, 1, 1, 2, 9, 10]
    # 21 images in shards of 8: 0-7, 8-15, 16-20
    ranges = [shard_range(s, 8, 21) for s in range(num_shards_of(21, 8))]
    assert ranges == [range(0, 8), range(8, 16), range(16, 21)]
    assert [i for r in ranges for i in r] == list(range(21))
    assert len(shard_range(0, 8, 0)) == 0  # an empty pool: one empty shard


def test_a_shard_is_done_only_with_its_marker(tmp_path):
    assert SHARD_FILES[-1] == '.done.json'
    os.makedirs(tmp_path / 'shards')
    for ext in SHARD_FILES[:-1]:
        open(shard_prefix(str(tmp_path), 3) + ext, 'w').close()
    assert not shard_done(str(tmp_path), 3)
    open(shard_prefix(str(tmp_path), 3) + '.done.json', 'w').close()
    assert shard_done(str(tmp_path), 3) and not shard_done(str(tmp_path), 2)


def test_missing_input_names_the_file_and_the_step(tmp_path):
    there = tmp_path / 'scores.npy'
    there.write_bytes(b'')
    assert require_input(str(there), 'score') == str(there)
    missing = osp.join(str(tmp_path), 'clusters.json')
    with pytest.raises(FileNotFoundError) as exc:
        require_input(missing, 'cluster')
    assert str(exc.value) == (
        f'{missing} not found: it is written by the cluster step; run '
        '`tools/select_data.py cluster --work-dir WORK_DIR --num-clusters M` '
        '(to completion) first')
    with pytest.raises(FileNotFoundError, match='--labeled-root LABELED`'):
        require_input(missing, 'score')
