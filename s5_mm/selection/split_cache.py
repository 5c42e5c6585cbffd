"""A split file's paths in one file that every process of a node maps.

Each rank reads the split file; the paths it lists are kept in a cache file
of :class:`PackedPaths`'s two arrays, mapped read-only, so the ranks of a
node and their dataloader workers share one copy of the pages (the page
cache) instead of holding one copy per rank. Nothing is broadcast. The
rules:

1. The key is the SHA-256 of the split file's bytes (plus the reader's
   version and ``keep_duplicates``); the cache file is named by it. Any
   change to the split file gives another key, so a stale cache is never
   read: a rank reads the split file to hash it, which costs about what
   reading it costs.
2. A missing cache is built by :func:`parse_split`, written to a temporary
   file in the cache folder and hard-linked to its name: the first writer
   wins, so ranks that race all map the same file. The temporary file is
   never read.
3. Before it is used, a cache file is checked (header, size, key, CRC-32 of
   the arrays, see :meth:`PackedPaths.open_file`); a truncated or altered
   one is rebuilt, with a warning.
4. The folder is ``cache_dir``, else ``$S5_MM_CACHE_DIR``, else
   ``<tempdir>/s5_mm-splits-<uid>``: node-local, one per user. Where it
   cannot be written, the paths are kept in the process's memory (one copy
   per rank, as without the cache), with a warning saying what to set.
   Cache files are not deleted; remove the folder to reclaim the space.
"""
import hashlib
import logging
import os
import os.path as osp
import tempfile
import uuid
from typing import Optional

from mmengine import fileio
from mmengine.logging import print_log

from .packed_paths import PackedPaths
from .split_file import parse_split, read_split, release_free_heap

#: bump when parse_split's rule changes: old caches are then not used
READER_VERSION = b'parse_split 1'


def default_cache_dir() -> str:
    """``$S5_MM_CACHE_DIR``, else ``<tempdir>/s5_mm-splits-<uid>``."""
    if os.environ.get('S5_MM_CACHE_DIR'):
        return os.environ['S5_MM_CACHE_DIR']
    user = os.getuid() if hasattr(os, 'getuid') else os.getlogin()
    return osp.join(tempfile.gettempdir(), f's5_mm-splits-{user}')


def split_key(local_path: str, keep_duplicates: bool) -> bytes:
    """SHA-256 of the file's bytes, the reader's version and the flag."""
    h = hashlib.sha256(READER_VERSION + bytes([keep_duplicates]))
    with open(local_path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.digest()


def _usable_folder(cache_dir: Optional[str]) -> Optional[str]:
    folder = cache_dir or default_cache_dir()
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        if hasattr(os, 'getuid') and os.stat(folder).st_uid != os.getuid():
            raise PermissionError('it belongs to another user')
        return folder
    except OSError as err:
        _warn_memory(folder, err)
        return None


def _warn_memory(folder: str, err: Exception) -> None:
    print_log(
        f'split cache folder {folder!r} cannot be used ({err}); the paths '
        'are kept in this process\'s memory (one copy per rank). Set '
        'cache_dir or $S5_MM_CACHE_DIR to a writable local folder to share '
        'them across the ranks of a node.',
        logger='current',
        level=logging.WARNING)


def _open_cached(file: str, key: bytes) -> Optional[PackedPaths]:
    """The mapped cache, or None if absent or invalid (warned)."""
    try:
        return PackedPaths.open_file(file, key)
    except FileNotFoundError:
        return None
    except (ValueError, OSError) as err:  # broken, or not readable
        print_log(f'split cache: {err}; rebuilding it',
                  logger='current',
                  level=logging.WARNING)
        return None


def _publish(paths: PackedPaths, file: str, key: bytes) -> None:
    """Write ``paths`` to a temporary file and give it the name ``file``
    unless a valid one is already there (first writer wins)."""
    tmp = f'{file}.{uuid.uuid4().hex[:12]}.tmp'
    # mode 0o666 minus the umask, as open() gives (mkstemp's is 0o600)
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        paths.save(tmp, key)
        try:
            os.link(tmp, file)
        except FileExistsError:  # another rank won, or a broken leftover
            if _open_cached(file, key) is None:
                os.replace(tmp, file)
        except OSError:  # no hard links on this file system
            os.replace(tmp, file)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


def map_split(path: str,
              keep_duplicates: bool = False,
              backend_args: Optional[dict] = None,
              cache_dir: Optional[str] = None) -> PackedPaths:
    """The paths of a split file, mapped from the node's cache file.

    Same paths and errors as :func:`read_split`; see the module docstring
    for the cache.

    Args:
        path (str): The split file (local or any mmengine backend).
        keep_duplicates (bool): See :func:`parse_split`.
        backend_args (dict, optional): mmengine file backend arguments.
        cache_dir (str, optional): Cache folder. Defaults to
            :func:`default_cache_dir`.

    Returns:
        PackedPaths: Arrays mapped read-only from the cache file (in memory
        if the cache folder cannot be written).
    """
    folder = _usable_folder(cache_dir)
    if folder is None:
        return read_split(path, keep_duplicates, backend_args)
    try:
        with fileio.get_local_path(path, backend_args=backend_args) as local:
            key = split_key(local, keep_duplicates)
            file = osp.join(folder, key.hex()[:40] + '.paths')
            cached = _open_cached(file, key)
            if cached is not None:
                return cached
            with open(local, 'rb') as f:
                raw = f.read()
    except FileNotFoundError as err:
        raise FileNotFoundError(f'split file {path!r} not found') from err
    paths = parse_split(raw, path, keep_duplicates)[0]
    del raw
    try:
        _publish(paths, file, key)
    except OSError as err:
        _warn_memory(folder, err)
        return paths
    del paths
    release_free_heap()
    return PackedPaths.open_file(file, key)
