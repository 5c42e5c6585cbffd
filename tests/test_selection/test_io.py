"""s5_mm.selection.io: atomic writes (no half-written file, the umask's
modes, deterministic bytes) and the streamed ``.npy`` reader/writer."""
import io
import os

import numpy as np
import pytest

from s5_mm.selection.io import (atomic_open, atomic_save_npy,
                                atomic_write_json, atomic_write_text,
                                iter_npy_chunks, npy_header, write_npy_header)


def test_atomic_writes_take_the_umask_and_keep_it(tmp_path):
    old = os.umask(0o027)
    try:
        atomic_write_text(str(tmp_path / 'x.txt'), 'x')
        assert os.umask(0o027) == 0o027  # the write did not change it
    finally:
        os.umask(old)
    assert os.stat(tmp_path / 'x.txt').st_mode & 0o777 == 0o640
    assert os.listdir(tmp_path) == ['x.txt']  # no temporary file left


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / 'sub' / 'out.txt'
    atomic_write_text(str(path), 'old')  # creates the folder
    with pytest.raises(ZeroDivisionError):
        with atomic_open(str(path), 'w', encoding='utf-8') as f:
            f.write('new, half written')
            1 / 0
    assert path.read_text() == 'old'
    assert os.listdir(tmp_path / 'sub') == ['out.txt']


def test_json_bytes_are_sorted_and_indented(tmp_path):
    atomic_write_json(str(tmp_path / 'a.json'), {'b': [1, 2], 'a': 1.5})
    assert (tmp_path / 'a.json').read_bytes() == (
        b'{\n  "a": 1.5,\n  "b": [\n    1,\n    2\n  ]\n}\n')


def test_save_npy_equals_numpy_save(tmp_path):
    x = np.arange(12, dtype=np.float32).reshape(3, 4).T  # Fortran order
    atomic_save_npy(str(tmp_path / 'x.npy'), x)
    ref = io.BytesIO()
    np.save(ref, np.ascontiguousarray(x))
    assert (tmp_path / 'x.npy').read_bytes() == ref.getvalue()
    np.testing.assert_array_equal(np.load(tmp_path / 'x.npy'), x)


def test_streamed_rows_after_the_header_equal_numpy_save(tmp_path):
    x = np.arange(10, dtype=np.float16).reshape(5, 2)
    path = str(tmp_path / 's.npy')
    with atomic_open(path, 'wb') as f:
        write_npy_header(f, x.shape, x.dtype)
        for start in (0, 2, 4):  # chunks of 2, 2, 1 rows
            f.write(x[start:start + 2].tobytes())
    ref = io.BytesIO()
    np.save(ref, x)
    assert open(path, 'rb').read() == ref.getvalue()
    shape, dtype, offset = npy_header(path)
    assert shape == (5, 2) and dtype == np.float16
    assert offset == os.path.getsize(path) - x.nbytes


def test_iter_npy_chunks_covers_file_in_order(tmp_path):
    x = np.arange(70, dtype=np.float16).reshape(35, 2)
    np.save(tmp_path / 'a.npy', x)
    chunks = [c.copy() for c in iter_npy_chunks(str(tmp_path / 'a.npy'), 8)]
    assert [len(c) for c in chunks] == [8, 8, 8, 8, 3]
    np.testing.assert_array_equal(np.concatenate(chunks), x)


def test_bad_npy_files_are_named(tmp_path):
    np.save(tmp_path / 'empty.npy', np.zeros((0, 3), np.float32))
    assert list(iter_npy_chunks(str(tmp_path / 'empty.npy'), 4)) == []
    np.save(tmp_path / 'one_d.npy', np.zeros(6, np.float32))
    with pytest.raises(ValueError, match=r'one_d\.npy: expected a 2-D array, '
                       r'got shape \(6,\)'):
        next(iter_npy_chunks(str(tmp_path / 'one_d.npy'), 4))
    np.save(tmp_path / 'cut.npy', np.ones((10, 3), np.float32))
    data = (tmp_path / 'cut.npy').read_bytes()
    (tmp_path / 'cut.npy').write_bytes(data[:-12])  # the last row is short
    chunks = iter_npy_chunks(str(tmp_path / 'cut.npy'), 4)
    assert len(next(chunks)) == 4 and len(next(chunks)) == 4
    with pytest.raises(IOError, match=r'cut\.npy: truncated at row 8'):
        next(chunks)
    np.save(tmp_path / 'f.npy', np.asfortranarray(np.ones((2, 3))))
    with pytest.raises(ValueError, match='Fortran-ordered'):
        npy_header(str(tmp_path / 'f.npy'))
