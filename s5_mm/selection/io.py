"""Files of the data selector: atomic writes and ``.npy`` streaming.

Every output is written to a temporary file next to its destination and
moved into place with :func:`os.replace`, so a reader (or a resumed run)
never takes a half-written file for a complete one.
"""
import contextlib
import json
import os
import os.path as osp
import uuid
from typing import IO, Any, Iterator, Tuple

import numpy as np


@contextlib.contextmanager
def atomic_open(path: str, mode: str = 'wb', **kwargs) -> Iterator[IO]:
    """Open a temporary file next to ``path``; move it there on success.

    On an exception the temporary file is removed and ``path`` is untouched.

    Args:
        path (str): Destination file; its folder is created if missing.
        mode (str): ``'wb'`` or ``'w'`` (then pass ``encoding``).
    """
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = osp.join(folder,
                   f'.{osp.basename(path)}.{uuid.uuid4().hex[:12]}.tmp')
    # mode 0o666 minus the process umask, as open() gives: not mkstemp's 0600
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def atomic_write_bytes(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file + ``os.replace``."""
    with atomic_open(path, 'wb') as f:
        f.write(data)


def atomic_write_text(path: str, text: str) -> None:
    """UTF-8 version of :func:`atomic_write_bytes`."""
    atomic_write_bytes(path, text.encode('utf-8'))


def atomic_write_json(path: str, obj: Any) -> None:
    """Write ``obj`` as indented, key-sorted JSON (deterministic bytes)."""
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + '\n')


def atomic_save_npy(path: str, array: np.ndarray) -> None:
    """Save ``array`` in ``.npy`` format atomically (deterministic bytes)."""
    with atomic_open(path, 'wb') as f:
        np.save(f, np.ascontiguousarray(array), allow_pickle=False)


def write_npy_header(f: IO, shape: Tuple[int, ...], dtype: Any) -> None:
    """Write a ``.npy`` header; the C-order raw rows must follow in ``f``.

    Lets a large array be streamed to disk chunk by chunk (inside
    :func:`atomic_open`) without holding it in memory.
    """
    np.lib.format.write_array_header_1_0(
        f,
        dict(descr=np.lib.format.dtype_to_descr(np.dtype(dtype)),
             fortran_order=False,
             shape=tuple(shape)))


def npy_header(path: str) -> Tuple[Tuple[int, ...], np.dtype, int]:
    """Shape, dtype and data offset of a ``.npy`` file (nothing loaded)."""
    with open(path, 'rb') as f:
        version = np.lib.format.read_magic(f)
        shape, fortran, dtype = np.lib.format._read_array_header(f, version)
        if fortran:
            raise ValueError(
                f'{path}: Fortran-ordered arrays are not supported')
        return shape, dtype, f.tell()


def iter_npy_chunks(path: str, chunk_rows: int) -> Iterator[np.ndarray]:
    """Yield consecutive row blocks of a 2-D ``.npy`` file with bounded memory.

    Rows are read with plain ``readinto`` into one reused buffer instead of a
    memory map, so the resident set stays at one chunk however large the
    file (a memory map keeps every page it touched resident). The yielded
    array is overwritten by the next iteration: copy it if you keep it.

    Args:
        path (str): ``.npy`` file of shape ``(N, D)``.
        chunk_rows (int): Rows per block.
    """
    shape, dtype, offset = npy_header(path)
    if len(shape) != 2:
        raise ValueError(f'{path}: expected a 2-D array, got shape {shape}')
    num, dim = shape
    buf = np.empty((min(chunk_rows, max(num, 1)), dim), dtype=dtype)
    with open(path, 'rb', buffering=0) as f:
        f.seek(offset)
        start = 0
        while start < num:
            n = min(chunk_rows, num - start)
            view = buf[:n]
            got = f.readinto(memoryview(view).cast('B'))
            if got != view.nbytes:
                raise IOError(f'{path}: truncated at row {start}; the file is '
                              'incomplete, re-run the step that wrote it')
            yield view
            start += n
