"""Files of the data selector: atomic writes, pool listing, feature chunks.

Every output is written to a temporary file next to its destination and
moved into place with :func:`os.replace`, so a reader (or a resumed run)
never takes a half-written file for a complete one.
"""
import contextlib
import json
import os
import os.path as osp
import tempfile
from typing import IO, Any, Iterator, List, Optional, Sequence, Tuple

import numpy as np

_UMASK = os.umask(0)
os.umask(_UMASK)
IMG_SUFFIXES = ('.jpg', '.jpeg', '.png', '.tif', '.tiff', '.bmp', '.webp')


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
    fd, tmp = tempfile.mkstemp(
        dir=folder, prefix=f'.{osp.basename(path)}.', suffix='.tmp')
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; use the usual mode
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


def list_pool(root: str,
              list_file: Optional[str] = None,
              suffixes: Sequence[str] = IMG_SUFFIXES) -> List[str]:
    """List the images of a pool, relative to ``root``, in a fixed order.

    Args:
        root (str): Pool root folder.
        list_file (str, optional): Text file with one image path (relative to
            ``root``) per line. Without it, ``root`` is walked recursively and
            every file with one of ``suffixes`` (case-insensitive) is taken.
        suffixes (Sequence[str]): Image file suffixes for the folder walk.

    Returns:
        list[str]: Sorted relative paths (POSIX separators) for a folder walk;
        the file's order for a list file.
    """
    if not osp.isdir(root):
        raise FileNotFoundError(
            f'pool root {root!r} is not a folder; pass the folder the image '
            'paths are relative to')
    if list_file is not None:
        if not osp.isfile(list_file):
            raise FileNotFoundError(f'pool list file {list_file!r} not found')
        with open(list_file, encoding='utf-8') as f:
            paths = [line.strip() for line in f]
        paths = [p for p in paths if p]
        seen = set()
        for lineno, p in enumerate(paths, 1):
            if p in seen:
                raise ValueError(f'{list_file}: line {lineno}: {p!r} is '
                                 'listed twice; remove the duplicate')
            seen.add(p)
        return paths
    suffixes = tuple(s.lower() for s in suffixes)
    paths = []
    for folder, dirs, files in os.walk(root, followlinks=True):
        dirs.sort()
        for name in files:
            if name.lower().endswith(suffixes):
                rel = osp.relpath(osp.join(folder, name), root)
                paths.append(rel.replace(os.sep, '/'))
    paths.sort()
    if not paths:
        raise FileNotFoundError(
            f'no image with suffix {suffixes} under {root!r}; check the root '
            'or pass a list file')
    return paths


def write_split_file(path: str, rel_paths: Sequence[str]) -> None:
    """Write a split file: UTF-8, one image path (relative to the pool root)
    per line, the format :class:`UnlabeledDataset`-style readers take."""
    atomic_write_text(path, ''.join(f'{p}\n' for p in rel_paths))


def read_lines(path: str) -> List[str]:
    """Non-empty lines of a UTF-8 text file (e.g. a split file)."""
    with open(path, encoding='utf-8') as f:
        return [line.rstrip('\n') for line in f if line.strip()]


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
