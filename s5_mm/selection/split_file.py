"""Split files and pool listing: the one reader of image lists.

A split file is UTF-8 text with one image path per line, relative to an
image root. The data selector writes split files (``split.txt``,
``pool.txt``); ``--pool-list`` files, the hook's ``pool_list`` and
:class:`~s5_mm.datasets.UnlabeledImageDataset`'s ``ann_file`` are all read by
:func:`parse_split` with one rule:

1. A UTF-8 byte order mark at the start of the file is dropped.
2. Lines end at ``\\n``, ``\\r\\n`` or a lone ``\\r`` (Python's universal
   newlines); line numbers count from 1.
3. White space around a path is ignored; blank lines and lines whose first
   non-blank character is ``#`` are skipped (comments).
4. Paths are normalised: ``.`` components and repeated ``/`` are dropped
   (``./a//b.png`` is ``a/b.png``); ``..`` is kept as written.
5. A path listed twice (after normalisation) is an error naming both lines,
   unless ``keep_duplicates=True``.
6. Bytes that are not UTF-8 are an error naming the line.

The paths are returned packed (:class:`PackedPaths`: one byte buffer plus
end offsets), a few bytes per image instead of a Python string each, so a
1M-line split costs tens of MB in every process that holds it. Lines that
need none of rules 1-4 (the common case) are parsed with numpy, without a
Python loop.
"""
import ctypes
import functools
import os.path as osp
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine import fileio

from .io import atomic_write_text
from .packed_paths import PackedPaths

IMG_SUFFIXES = ('.jpg', '.jpeg', '.png', '.tif', '.tiff', '.bmp', '.webp')
BOM = b'\xef\xbb\xbf'
# a line starting / ending with one of these needs the per-line rule
_EDGE_FIRST = np.frombuffer(b' \t\r\x0b\x0c#.', np.uint8)
_EDGE_LAST = np.frombuffer(b' \t\r\x0b\x0c/', np.uint8)


def normalize_path(path: str) -> str:
    """Drop ``.`` components and repeated ``/`` (``..`` stays as written)."""
    parts = [p for p in path.split('/') if p not in ('', '.')]
    return ('/' if path.startswith('/') else '') + '/'.join(parts)


def _line_bounds(buf: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive, without the line break) of every line."""
    breaks = np.flatnonzero(buf == 10)
    ends = breaks
    cr = np.flatnonzero(buf == 13)
    if len(cr):
        nxt = np.minimum(cr + 1, len(buf) - 1)
        lone = cr[(cr + 1 == len(buf)) | (buf[nxt] != 10)]
        if len(lone):  # a lone CR ends a line
            breaks = np.sort(np.concatenate([breaks, lone]))
        ends = breaks.copy()
        crlf = (buf[breaks] == 10) & (breaks > 0)
        crlf[crlf] = buf[breaks[crlf] - 1] == 13
        ends[crlf] -= 1  # the CR of CRLF belongs to the line break
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([ends, [len(buf)]])
    if starts[-1] == len(buf):  # the text ends with a line break
        starts, ends = starts[:-1], ends[:-1]
    return starts.astype(np.int64), ends.astype(np.int64)


def _irregular(buf: np.ndarray, starts: np.ndarray,
               ends: np.ndarray) -> np.ndarray:
    """Lines that need the per-line rule (blank, comment, white space at an
    edge, ``.`` or ``//`` components, non-ASCII bytes)."""
    n = len(starts)
    bad = ends <= starts
    if not n:
        return bad
    first = buf[np.minimum(starts, len(buf) - 1)]
    last = buf[np.maximum(ends - 1, 0)]
    bad |= np.isin(first, _EDGE_FIRST) | np.isin(last, _EDGE_LAST)
    slash = np.flatnonzero(buf[:-1] == 47)
    hits = slash[np.isin(buf[slash + 1], (46, 47))]  # '/.' or '//'
    hits = np.concatenate([hits, np.flatnonzero(buf >= 128)])
    if len(hits):
        bad[np.searchsorted(starts, hits, side='right') - 1] = True
    return bad


def parse_split(raw: Union[bytes, str],
                source: str = '<split file>',
                keep_duplicates: bool = False
                ) -> Tuple[PackedPaths, np.ndarray]:
    """Parse a split file's content by the module's rule.

    Args:
        raw (bytes | str): The file's content.
        source (str): File name for error messages.
        keep_duplicates (bool): Keep paths listed more than once (each
            occurrence is an item). Default: an error naming both lines.

    Returns:
        tuple: The paths (:class:`PackedPaths`, file order) and the ``int64``
        line number of each.
    """
    if isinstance(raw, str):
        raw = raw.encode('utf-8')
    if raw.startswith(BOM):
        raw = raw[len(BOM):]
    buf = np.frombuffer(raw, np.uint8)
    starts, ends = _line_bounds(buf)
    slow = np.flatnonzero(_irregular(buf, starts, ends))
    if not len(slow) and not np.any(buf == 13):  # plain lines only
        lines = np.arange(1, len(starts) + 1, dtype=np.int64)
        joined = buf if raw.endswith(b'\n') or not len(buf) else \
            np.concatenate([buf, np.uint8([10])])
    else:
        joined, lines = _apply_line_rule(raw, buf, starts, ends, slow,
                                         source)
    if not keep_duplicates:  # (the plain case checks raw: no copy)
        _check_duplicates(raw if joined is buf else joined.tobytes(), lines,
                          source)
    seps = np.flatnonzero(joined == 10)
    packed = PackedPaths(joined[joined != 10],
                         seps - np.arange(len(seps), dtype=np.int64))
    return packed, lines


def _apply_line_rule(raw: bytes, buf: np.ndarray, starts: np.ndarray,
                     ends: np.ndarray, slow: np.ndarray,
                     source: str) -> Tuple[np.ndarray, np.ndarray]:
    """Strip, skip and normalise the ``slow`` lines in place; the kept
    paths each followed by ``\\n`` in one buffer, and their line numbers."""
    keep = np.ones(len(starts), bool)
    work = np.empty(len(buf) + 1, np.uint8)  # one spare byte for a separator
    work[:-1] = buf
    for i in slow.tolist():
        s, e = int(starts[i]), int(ends[i])
        try:
            text = raw[s:e].decode('utf-8').strip()
        except UnicodeDecodeError as err:
            raise ValueError(f'{source}: line {i + 1} is not UTF-8 text '
                             f'({err}); save the file as UTF-8') from err
        if not text or text.startswith('#'):
            keep[i] = False
            continue
        path = normalize_path(text)
        if not path:
            raise ValueError(f'{source}: line {i + 1} ({text!r}) names no '
                             'file; remove it')
        enc = path.encode('utf-8')  # never longer than the line
        work[s:s + len(enc)] = np.frombuffer(enc, np.uint8)
        ends[i] = s + len(enc)
    starts, ends = starts[keep], ends[keep]
    work[ends] = 10
    cover = np.zeros(len(work) + 1, np.int8)  # +1 on [start, end]
    cover[starts] += 1
    cover[ends + 1] -= 1
    joined = work[np.cumsum(cover[:-1], dtype=np.int8).astype(bool)]
    return joined, np.flatnonzero(keep).astype(np.int64) + 1


def _check_duplicates(joined: bytes, lines: np.ndarray,
                      source: str) -> None:
    """``joined``: the paths, each followed by ``\\n`` (the last one may
    lack it)."""
    items = joined.split(b'\n')
    if items and not items[-1]:
        items.pop()
    if len(set(items)) == len(items):
        return
    first = {}
    for k, item in enumerate(items):
        if item in first:
            path = item.decode('utf-8')
            raise ValueError(
                f'{source}: line {lines[k]}: {path!r} is listed twice '
                f'(first on line {lines[first[item]]}; paths are compared '
                "after dropping './' and '//'); remove one, or keep both "
                'with keep_duplicates=True (--keep-duplicates)')
        first[item] = k


@functools.lru_cache(maxsize=1)
def _libc_trim():
    try:
        return ctypes.CDLL('libc.so.6').malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to do
        return None


def release_free_heap() -> None:
    """Hand the freed parse temporaries back to the OS.

    glibc's malloc keeps freed blocks of the heap that lie below live ones
    (here the packed arrays), which left ~45 MB resident per 1M lines after
    a parse; ``malloc_trim(0)`` returns them. A no-op without glibc.
    """
    trim = _libc_trim()
    if trim is not None:
        trim(0)


def read_split(path: str,
               keep_duplicates: bool = False,
               backend_args: Optional[dict] = None) -> PackedPaths:
    """The image paths of a split file (local or any mmengine backend).

    Args:
        path (str): The split file.
        keep_duplicates (bool): See :func:`parse_split`.
        backend_args (dict, optional): mmengine file backend arguments.
    """
    try:
        raw = fileio.get(path, backend_args=backend_args)
    except FileNotFoundError as err:
        raise FileNotFoundError(f'split file {path!r} not found') from err
    paths = parse_split(raw, path, keep_duplicates)[0]
    del raw
    release_free_heap()
    return paths


def find_lines(path: str, rel_path: str,
               backend_args: Optional[dict] = None) -> List[int]:
    """The line numbers of a split file listing ``rel_path`` (read again:
    used for error messages, so nothing per line is kept in memory)."""
    paths, lines = parse_split(
        fileio.get(path, backend_args=backend_args), path, True)
    target = normalize_path(rel_path).encode('utf-8')
    found = []
    data, start = paths.data.tobytes(), 0
    for k, end in enumerate(paths.ends.tolist()):
        if data[start:end] == target:
            found.append(int(lines[k]))
        start = end
    return found


def parse_split_lines(text: str) -> List[Tuple[int, str]]:
    """``(line number, path)`` of every image line of a split file's text
    (duplicates kept)."""
    paths, lines = parse_split(text, keep_duplicates=True)
    return list(zip(lines.tolist(), paths))


def read_split_file(path: str) -> List[str]:
    """The image paths of a split file, as a list, in file order."""
    return list(read_split(path))


def _reads_back(text: str, rel_paths: Sequence[str]) -> bool:
    """Whether ``text`` parses as exactly ``rel_paths``, one per line."""
    try:
        back, lines = parse_split(text, keep_duplicates=True)
    except ValueError:
        return False
    return (len(back) == len(rel_paths)
            and np.array_equal(lines, np.arange(1, len(back) + 1))
            and list(back) == list(rel_paths))


def write_split_file(path: str, rel_paths: Sequence[str]) -> None:
    """Write a split file (atomically) that :func:`read_split_file` reads
    back as ``rel_paths``.

    Args:
        path (str): Destination file.
        rel_paths (Sequence[str]): Image paths, relative to the pool root.
    """
    text = ''.join(f'{p}\n' for p in rel_paths)
    if not _reads_back(text, rel_paths):
        bad = next(p for p in rel_paths if not _reads_back(f'{p}\n', [p]))
        raise ValueError(
            f'{bad!r} cannot be a line of the split file {path}: paths '
            "must not be empty, start with '#', hold a line break, "
            "start/end with white space or hold './' or '//'; rename "
            'the image or normalise the path')
    atomic_write_text(path, text)


def list_pool(root: str,
              list_file: Optional[str] = None,
              suffixes: Sequence[str] = IMG_SUFFIXES,
              keep_duplicates: bool = False) -> Sequence[str]:
    """List the images of a pool, relative to ``root``, in a fixed order.

    Args:
        root (str): Pool root folder.
        list_file (str, optional): Split file of image paths (relative to
            ``root``), read by :func:`read_split`. Without it, ``root`` is
            walked recursively and every file with one of ``suffixes``
            (case-insensitive) is taken.
        suffixes (Sequence[str]): Image file suffixes for the folder walk.
        keep_duplicates (bool): See :func:`parse_split`.

    Returns:
        Sequence[str]: Sorted relative paths (POSIX separators, a list) for
        a folder walk; the file's order (:class:`PackedPaths`) for a list
        file.
    """
    if not osp.isdir(root):
        raise FileNotFoundError(
            f'pool root {root!r} is not a folder; pass the folder the image '
            'paths are relative to')
    if list_file is not None:
        if not osp.isfile(list_file):
            raise FileNotFoundError(f'pool list file {list_file!r} not found')
        return read_split(list_file, keep_duplicates)
    return list_images(root, suffixes)


def list_images(root: str,
                suffixes: Sequence[str] = IMG_SUFFIXES,
                backend_args: Optional[dict] = None) -> List[str]:
    """Sorted paths (relative to ``root``, ``/``-separated) of the files
    under ``root`` (recursive) whose names end with one of ``suffixes``
    (case-insensitive), hidden files (``.name``) skipped as by mmengine's
    ``fileio.list_dir_or_file``; an error if there is none."""
    suffixes = tuple(s.lower() for s in suffixes)
    paths = sorted(
        p for p in fileio.list_dir_or_file(
            root, list_dir=False, recursive=True, backend_args=backend_args)
        if p.lower().endswith(suffixes))
    if not paths:
        raise FileNotFoundError(
            f'no image with suffix {suffixes} under {root!r}; check the '
            'image folder or pass a list file')
    return paths
