"""One split-file rule for the selector and UnlabeledImageDataset, and the
file modes of atomic writes."""
import os
import os.path as osp

import pytest

from s5_mm.datasets.unlabeled_dataset import UnlabeledImageDataset
from s5_mm.selection import (IMG_SUFFIXES, list_pool, parse_split_lines,
                             read_split_file, write_split_file)
from s5_mm.selection.io import atomic_write_text

UNLABELED = 'tests/data/unlabeled'
TEXT = '# selected by run 3\n\n  a.png  \n#b.png\n   # c.png\nsub/d.png\n'


def test_parse_rule():
    assert parse_split_lines(TEXT) == [(3, 'a.png'), (6, 'sub/d.png')]
    assert parse_split_lines('') == []


def test_selector_and_dataset_read_the_same_paths(tmp_path):
    names = list_pool(UNLABELED)[:3]
    text = f'# header\n{names[0]}\n\n#{names[1]}\n  {names[2]}\n'
    split = tmp_path / 'split.txt'
    split.write_text(text, encoding='utf-8')
    want = [names[0], names[2]]
    assert read_split_file(str(split)) == want
    assert list_pool(UNLABELED, str(split)) == want
    ds = UnlabeledImageDataset(
        ann_file=str(split), data_prefix=dict(img_path=UNLABELED),
        lazy_init=False)
    assert [ds.get_data_info(i)['img_path'] for i in range(len(ds))] == [
        osp.join(UNLABELED, p) for p in want]
    assert ds.img_suffix == IMG_SUFFIXES


def test_write_refuses_what_the_reader_would_change(tmp_path):
    path = str(tmp_path / 's.txt')
    write_split_file(path, ['a.png', 'b c/d.png'])
    assert read_split_file(path) == ['a.png', 'b c/d.png']
    for bad in ('#x.png', ' x.png', 'x.png ', '', 'x\ny.png'):
        with pytest.raises(ValueError, match='cannot be a line of the split'):
            write_split_file(path, ['ok.png', bad])
    assert read_split_file(path) == ['a.png', 'b c/d.png']  # untouched


def test_duplicates_in_a_pool_list(tmp_path):
    names = list_pool(UNLABELED)[:2]
    lst = tmp_path / 'l.txt'
    lst.write_text(f'{names[0]}\n# note\n{names[1]}\n{names[0]}\n')
    with pytest.raises(ValueError, match=r'line 4: .* listed twice'):
        list_pool(UNLABELED, str(lst))


def test_atomic_writes_take_the_umask_and_keep_it(tmp_path):
    old = os.umask(0o027)
    try:
        atomic_write_text(str(tmp_path / 'x.txt'), 'x')
        assert os.umask(0o027) == 0o027  # the write did not change it
    finally:
        os.umask(old)
    assert os.stat(tmp_path / 'x.txt').st_mode & 0o777 == 0o640
    assert os.listdir(tmp_path) == ['x.txt']  # no temporary file left
