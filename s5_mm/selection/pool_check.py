"""Read every image of a pool or split file once: it exists and decodes.

The data loaders do not look at the images before the first iteration
(:class:`~s5_mm.datasets.UnlabeledImageDataset` reads only the split file);
this check, ``tools/select_data.py check``, does it once, in parallel worker
processes, with mmengine's progress bar, and names every bad file with its
split-file line.
"""
import logging
import os.path as osp
from typing import List, Optional, Tuple, Union

import mmcv
from mmengine import fileio
from mmengine.logging import print_log
from mmengine.utils import track_parallel_progress, track_progress

from .io import atomic_write_text
from .split_file import list_images, parse_split

Logger = Union[str, logging.Logger]


def unreadable_reason(path: str,
                      backend_args: Optional[dict] = None) -> Optional[str]:
    """Why an image cannot be loaded (``None`` if it reads and decodes as
    ``LoadImageFromFile`` decodes it: cv2, colour)."""
    try:
        data = fileio.get(path, backend_args=backend_args)
    except FileNotFoundError:
        return 'does not exist'
    except Exception as e:  # noqa: BLE001 (any I/O failure is the reason)
        return f'cannot be read ({type(e).__name__}: {e})'
    try:
        img = mmcv.imfrombytes(data, flag='color', backend='cv2')
    except Exception as e:  # noqa: BLE001
        return f'cannot be decoded ({type(e).__name__}: {e})'
    return 'cannot be decoded (empty, truncated or not an image)' \
        if img is None else None


def check_pool(root: str,
               list_file: Optional[str] = None,
               workers: int = 1,
               rejects_file: Optional[str] = None,
               keep_duplicates: bool = False,
               logger: Logger = 'current') -> List[Tuple[str, int, str]]:
    """Read and decode every image of a pool.

    Args:
        root (str): Image root (split paths are relative to it).
        list_file (str, optional): Split file; default: every image under
            ``root``.
        workers (int): Worker processes (1: in this process).
        rejects_file (str, optional): Write ``path<TAB>line<TAB>reason``
            lines here (line 0 without a split file).
        keep_duplicates (bool): See
            :func:`s5_mm.selection.split_file.parse_split`.
        logger (str | logging.Logger): Gets the summary and the first bad
            files.

    Returns:
        list: ``(path, line, reason)`` of every image that cannot be loaded.
    """
    if list_file is not None:
        paths, lines = parse_split(fileio.get(list_file), list_file,
                                   keep_duplicates)
    else:
        paths, lines = list_images(root), None
    tasks = ((osp.join(root, p) for p in paths), len(paths))
    if workers > 1:
        reasons = track_parallel_progress(unreadable_reason, tasks, workers,
                                          chunksize=256)
    else:
        reasons = track_progress(unreadable_reason, tasks)
    bad = [(p, 0 if lines is None else int(lines[k]), r)
           for k, (p, r) in enumerate(zip(paths, reasons)) if r is not None]
    if rejects_file is not None:
        atomic_write_text(rejects_file,
                          ''.join(f'{p}\t{n}\t{r}\n' for p, n, r in bad))
    where = list_file or root
    for p, n, r in bad[:10]:
        at = f'{list_file}:{n}' if list_file else root
        print_log(f'{osp.join(root, p)} {r} (listed on {at})', logger=logger,
                  level=logging.ERROR)
    print_log(f'{where}: {len(paths)} images, {len(bad)} cannot be loaded'
              + (f' (all listed in {rejects_file})' if rejects_file and bad
                 else ''), logger=logger)
    return bad
