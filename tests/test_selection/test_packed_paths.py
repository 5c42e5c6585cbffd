"""PackedPaths: many paths in a uint8 buffer and int64 end offsets, read
back as str like a list."""
import numpy as np
import pytest

from s5_mm.selection.packed_paths import PackedPaths

PATHS = ['a.png', 'sub/bé.jpg', '', 'x/y/ç日本.tif']


def test_arrays_hold_utf8_bytes_and_end_offsets():
    packed = PackedPaths.from_strings(PATHS)
    # byte lengths: 5, 11 (é is 2 bytes), 0, 16 (ç 2, 日本 3 + 3)
    assert packed.ends.dtype == np.int64 and packed.data.dtype == np.uint8
    assert packed.ends.tolist() == [5, 16, 16, 32]
    assert packed.data.tobytes() == ''.join(PATHS).encode('utf-8')
    assert packed.nbytes == 32 + 8 * 4
    assert len(packed) == 4


def test_indexing_like_a_list():
    packed = PackedPaths.from_strings(PATHS)
    assert [packed[i] for i in range(4)] == PATHS
    assert packed[-1] == PATHS[-1] and packed[-4] == PATHS[0]
    assert packed[1:3] == PATHS[1:3] and packed[::-2] == PATHS[::-2]
    assert packed[10:] == []
    # a negative index counts from the end first: -5 -> -1
    for bad, shown in ((4, 4), (-5, -1)):
        with pytest.raises(IndexError,
                           match=rf'path index {shown} out of range \(4\)'):
            packed[bad]
    assert list(packed) == PATHS and list(iter(packed)) == PATHS
    assert 'sub/bé.jpg' in packed and 'c.png' not in packed
    assert packed.index('') == 2  # the Sequence mixins work on __getitem__


def test_equality():
    packed = PackedPaths.from_strings(PATHS)
    assert packed == PackedPaths.from_strings(list(PATHS))
    assert packed == PATHS and packed == tuple(PATHS)
    assert packed != PATHS[:3] and packed != PackedPaths.from_strings(
        PATHS[:3])
    assert packed != PackedPaths.from_strings(['a.pnh'] + PATHS[1:])
    assert packed != '|'.join(PATHS)  # neither a list nor PackedPaths


def test_empty_and_repr():
    empty = PackedPaths.from_strings([])
    assert len(empty) == 0 and list(empty) == [] and empty == []
    assert empty.nbytes == 0
    with pytest.raises(IndexError, match=r'path index 0 out of range \(0\)'):
        empty[0]
    assert repr(PackedPaths.from_strings(PATHS)) == (
        "PackedPaths(4: ['a.png', 'sub/bé.jpg', '', ...])")
    assert repr(PackedPaths.from_strings(['a'])) == "PackedPaths(1: ['a'])"
