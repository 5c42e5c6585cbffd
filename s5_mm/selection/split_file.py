"""Split files and pool listing: the one reader of image lists.

A split file is UTF-8 text with one image path per line, relative to an
image root. Surrounding white space is ignored; blank lines and lines whose
first non-blank character is ``#`` are skipped (comments). The data selector
writes split files (``split.txt``, ``pool.txt``), ``--pool-list`` files and
:class:`~s5_mm.datasets.UnlabeledImageDataset`'s ``ann_file`` are read with
the same rule.
"""
import os.path as osp
from typing import List, Optional, Sequence, Tuple

from mmengine import fileio

from .io import atomic_write_text

IMG_SUFFIXES = ('.jpg', '.jpeg', '.png', '.tif', '.tiff', '.bmp', '.webp')


def parse_split_lines(text: str) -> List[Tuple[int, str]]:
    """``(line number, path)`` of every image line of a split file's text."""
    out = []
    for lineno, line in enumerate(text.splitlines(), 1):
        path = line.strip()
        if path and not path.startswith('#'):
            out.append((lineno, path))
    return out


def read_split_file(path: str) -> List[str]:
    """The image paths of a local split file, in file order."""
    with open(path, encoding='utf-8') as f:
        return [p for _, p in parse_split_lines(f.read())]


def write_split_file(path: str, rel_paths: Sequence[str]) -> None:
    """Write a split file (atomically) that :func:`read_split_file` reads
    back as ``rel_paths``.

    Args:
        path (str): Destination file.
        rel_paths (Sequence[str]): Image paths, relative to the pool root.
    """
    for p in rel_paths:
        if [(1, p)] != parse_split_lines(p):
            raise ValueError(
                f'{p!r} cannot be a line of the split file {path}: paths '
                "must not be empty, start with '#', hold a line break or "
                'start/end with white space; rename the image')
    atomic_write_text(path, ''.join(f'{p}\n' for p in rel_paths))


def list_pool(root: str,
              list_file: Optional[str] = None,
              suffixes: Sequence[str] = IMG_SUFFIXES) -> List[str]:
    """List the images of a pool, relative to ``root``, in a fixed order.

    Args:
        root (str): Pool root folder.
        list_file (str, optional): Split file of image paths (relative to
            ``root``). Without it, ``root`` is walked recursively and every
            file with one of ``suffixes`` (case-insensitive) is taken.
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
            lines = parse_split_lines(f.read())
        seen = set()
        for lineno, p in lines:
            if p in seen:
                raise ValueError(f'{list_file}: line {lineno}: {p!r} is '
                                 'listed twice; remove the duplicate')
            seen.add(p)
        return [p for _, p in lines]
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
