"""One split-file rule for the selector and UnlabeledImageDataset."""
import os.path as osp

import numpy as np
import pytest

from s5_mm.datasets.unlabeled_dataset import UnlabeledImageDataset
from s5_mm.selection import (IMG_SUFFIXES, list_pool, parse_split_lines,
                             read_split_file, write_split_file)
from s5_mm.selection.split_file import PackedPaths, parse_split

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


# --- one rule, two readers (issue 22 items 4 and 10): every case below goes
# through the selector's --pool-list reader (list_pool) and through
# UnlabeledImageDataset's ann_file, and both must give the same paths ---

A, B, C = 'aGrass/a001.jpg', 'aGrass/a002.jpg', 'bField/b001.jpg'


def _dataset_paths(split, **kwargs):
    ds = UnlabeledImageDataset(ann_file=str(split),
                               data_prefix=dict(img_path=UNLABELED),
                               **kwargs)
    return [osp.relpath(ds.get_data_info(i)['img_path'], UNLABELED)
            for i in range(len(ds))]


def _both(split, **kwargs):
    pool = list(list_pool(UNLABELED, str(split), **kwargs))
    assert _dataset_paths(split, **kwargs) == pool
    return pool


@pytest.mark.parametrize('raw', [
    b'\xef\xbb\xbf' + f'{A}\n{B}\n{C}\n'.encode(),  # BOM
    f'{A}\r\n{B}\r\n{C}\r\n'.encode(),  # CRLF
    f'{A}\r{B}\r{C}'.encode(),  # old Mac line ends, no final one
    f'./{A}\n{B}\n./{C}\n'.encode(),  # ./
    f'aGrass//a001.jpg\naGrass/./a002.jpg\nbField///b001.jpg\n'.encode(),
    b'\xef\xbb\xbf' + f'# c\r\n  ./{A} \r\n\r\n{B}\r\n{C}'.encode(),
], ids=['bom', 'crlf', 'cr', 'dot-slash', 'double-slash', 'all'])
def test_spellings_read_as_the_same_paths(tmp_path, raw):
    split = tmp_path / 'split.txt'
    split.write_bytes(raw)
    assert _both(split) == [A, B, C]


@pytest.mark.parametrize('second', [A, f'./{A}', 'aGrass//a001.jpg',
                                    f' {A}\r'])
def test_duplicates_name_both_lines_in_both_readers(tmp_path, second):
    split = tmp_path / 'split.txt'
    split.write_bytes(f'{A}\n# note\n{B}\n{second}\n'.encode())
    msg = rf"{split}: line 4: '{A}' is listed twice \(first on line 1"
    with pytest.raises(ValueError, match=msg):
        list_pool(UNLABELED, str(split))
    with pytest.raises(ValueError, match=msg):
        _dataset_paths(split)
    # kept on request, by both
    assert _both(split, keep_duplicates=True) == [A, B, A]


def test_bom_is_not_part_of_the_first_path(tmp_path):
    """The BOM first line used to be 'not found' in the dataset and a
    reject in the selector (issue 22 item 10)."""
    split = tmp_path / 'split.txt'
    split.write_bytes(b'\xef\xbb\xbf' + A.encode() + b'\n')
    assert read_split_file(str(split)) == [A]
    assert osp.isfile(osp.join(UNLABELED, _both(split)[0]))


def test_not_utf8_names_the_line(tmp_path):
    split = tmp_path / 'split.txt'
    split.write_bytes(f'{A}\n'.encode() + b'caf\xe9.jpg\n')
    with pytest.raises(ValueError, match=r'line 2 is not UTF-8'):
        list_pool(UNLABELED, str(split))
    with pytest.raises(ValueError, match=r'line 2 is not UTF-8'):
        _dataset_paths(split)


def test_packed_paths_match_a_plain_reference():
    """parse_split against an independent line-by-line reading."""
    rng = np.random.default_rng(0)
    names = [f'd{rng.integers(50)}/é{i}_{rng.integers(1e6)}.png'
             for i in range(3000)]
    spell = ['{}', './{}', ' {} ', '{}\r']
    lines, want = [], []
    for k, n in enumerate(names):
        lines.append(spell[k % 4].format(n.replace('/', '//', k % 2)))
        want.append(n)
        if k % 97 == 0:
            lines.append('# comment')
    paths, numbers = parse_split('\n'.join(lines))
    assert list(paths) == want and len(paths) == 3000
    assert paths[-1] == want[-1] and paths[5:7] == want[5:7]
    ref_numbers = [i + 1 for i, ln in enumerate(lines)
                   if not ln.startswith('#')]
    assert numbers.tolist() == ref_numbers
    assert paths.nbytes == sum(len(n.encode()) for n in want) + 8 * 3000
    assert PackedPaths.from_strings(want) == paths

