"""Unlabeled image dataset for semi-supervised segmentation (S4P)."""
import logging
import os.path as osp
from typing import Any, Optional, Sequence, Union

from mmengine import fileio
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log
from mmseg.registry import DATASETS

from s5_mm.selection.pool_check import unreadable_reason
from s5_mm.selection.split_cache import map_split
from s5_mm.selection.split_file import (IMG_SUFFIXES, PackedPaths,
                                        find_lines, list_images, read_split)


@DATASETS.register_module()
class UnlabeledImageDataset(BaseDataset):
    """Images without labels, read from a folder or from a split file.

    Two ways to list the images:

    * ``ann_file`` empty: every file under ``data_root/data_prefix.img_path``
      whose name ends with one of ``img_suffix`` (case-insensitive), searched
      recursively, in sorted order.
    * ``ann_file`` set: a UTF-8 split file with one image path per line,
      relative to ``data_root/data_prefix.img_path``: the format the S5 data
      selector writes, read by its reader
      (:func:`s5_mm.selection.split_file.parse_split`: BOM, CRLF, comments,
      ``./`` and ``//`` spellings; a duplicate is an error naming both lines
      unless ``keep_duplicates=True``).

    The paths are kept packed (one byte buffer plus offsets, mmengine's
    ``data_bytes`` / ``data_address``), so a 1M-line split costs about its
    file size. With ``map_paths`` (default) the two arrays are mapped
    read-only from a cache file of the split
    (:mod:`s5_mm.selection.split_cache`, keyed on the split file's hash), so
    all ranks of a node and their workers share one copy; a pickled dataset
    (spawned workers) maps the file again. The build
    does not look at the images: a listed file that is missing or cannot be
    decoded is an error when it is loaded, naming the file and its split-file
    line (``skip_unreadable=True`` draws another image instead and logs the
    count). Check every image once before a long run with
    ``tools/select_data.py check`` (parallel, with a progress bar).

    Each item has ``img_path`` and an empty ``seg_fields``; use
    :class:`LoadIgnoreMask` in the pipeline to get a mask that marks padded
    pixels. The dataset has no classes of its own: in a ``ConcatDataset``
    with a labeled set, either pass the labeled set's ``metainfo`` or list
    the labeled set's keys in the ConcatDataset's ``ignore_keys``.

    Args:
        ann_file (str): Split file, relative to ``data_root`` unless
            absolute. Empty to scan the image folder. Defaults to ''.
        img_suffix (str | Sequence[str]): File endings that count as images
            when scanning a folder. Defaults to common image endings.
        data_prefix (dict): ``img_path``: the image folder, relative to
            ``data_root``. Defaults to ``dict(img_path='')``.
        backend_args (dict, optional): mmengine file backend arguments for
            the split file and the folder scan.
        keep_duplicates (bool): Keep paths listed more than once in the split
            file (each is an item). Defaults to False (an error).
        skip_unreadable (bool): In training, replace an image that is missing
            or cannot be decoded at load time by a random other one (mmengine's
            ``max_refetch``), with a warning that counts them. Defaults to
            False (an error naming the file and its line).
        map_paths (bool): Map the split file's paths from a cache file
            shared by the node's processes. False: every rank keeps its own
            copy in memory. Defaults to True.
        cache_dir (str, optional): Folder of the cache files; node-local
            and writable. Defaults to ``$S5_MM_CACHE_DIR``, else a folder in
            the system's temporary directory.
        **kwargs: Other arguments of :class:`mmengine.dataset.BaseDataset`
            (``data_root``, ``pipeline``, ``metainfo``, ``indices``, ...).
    """

    METAINFO: dict = dict()

    def __init__(self,
                 ann_file: str = '',
                 img_suffix: Union[str, Sequence[str]] = IMG_SUFFIXES,
                 data_prefix: Optional[dict] = None,
                 backend_args: Optional[dict] = None,
                 keep_duplicates: bool = False,
                 skip_unreadable: bool = False,
                 map_paths: bool = True,
                 cache_dir: Optional[str] = None,
                 **kwargs) -> None:
        if not kwargs.get('serialize_data', True):
            raise ValueError('UnlabeledImageDataset always keeps its paths '
                             'packed; remove serialize_data=False')
        self.img_suffix = tuple(
            s.lower() for s in ([img_suffix] if isinstance(img_suffix, str)
                                else img_suffix))
        self.backend_args = backend_args
        self.keep_duplicates = keep_duplicates
        self.skip_unreadable = skip_unreadable
        self.map_paths, self.cache_dir = map_paths, cache_dir
        self.num_skipped = 0  # in this process
        super().__init__(
            ann_file=ann_file,
            data_prefix=data_prefix or dict(img_path=''),
            **kwargs)

    def full_init(self) -> None:
        """List the images (packed); no file is opened but the split file."""
        if self._fully_initialized:
            return
        paths = self._list_paths()
        self.data_bytes, self.data_address = paths.data, paths.ends
        self._fully_initialized = True  # the subset below asks len(self)
        if self._indices is not None:
            self.data_bytes, self.data_address = \
                self._get_serialized_subset(self._indices)

    def _list_paths(self) -> PackedPaths:
        img_dir = self.data_prefix.get('img_path', '')
        if not self.ann_file:
            if not fileio.isdir(img_dir, backend_args=self.backend_args):
                raise FileNotFoundError(
                    f'UnlabeledImageDataset: image folder {img_dir!r} does '
                    'not exist. Set data_root / data_prefix.img_path to the '
                    'folder of unlabeled images, or ann_file to a split file.')
            return PackedPaths.from_strings(
                list_images(img_dir, self.img_suffix, self.backend_args))
        try:
            if self.map_paths:
                paths = map_split(self.ann_file, self.keep_duplicates,
                                  self.backend_args, self.cache_dir)
            else:
                paths = read_split(self.ann_file, self.keep_duplicates,
                                   self.backend_args)
        except FileNotFoundError as e:
            raise FileNotFoundError(
                f'UnlabeledImageDataset: {e} (ann_file is relative to '
                'data_root).') from e
        if not len(paths):
            raise ValueError(
                f'UnlabeledImageDataset: split file {self.ann_file!r} lists '
                'no image.')
        return paths

    def __getstate__(self) -> dict:
        """Pickle the paths as a :class:`PackedPaths` (a mapped one pickles
        as its file's name)."""
        state = self.__dict__.copy()
        if 'data_bytes' in state:
            state['data_bytes'] = PackedPaths(state.pop('data_bytes'),
                                              state.pop('data_address'))
        return state

    def __setstate__(self, state: dict) -> None:
        packed = state.get('data_bytes')
        if isinstance(packed, PackedPaths):
            state['data_bytes'], state['data_address'] = packed.data, \
                packed.ends
        self.__dict__.update(state)

    def load_data_list(self) -> list:
        """Every item as a dict (for inspection; the dataset itself keeps
        the paths packed and never calls this)."""
        return [self.get_data_info(i) for i in range(len(self))]

    def get_data_info(self, idx: int) -> dict:
        """``img_path``, ``seg_fields``, ``reduce_zero_label`` and
        ``sample_idx`` of item ``idx``."""
        if not self._fully_initialized:
            self.full_init()
        rel = PackedPaths(self.data_bytes, self.data_address)[idx]
        return dict(
            img_path=osp.join(self.data_prefix.get('img_path', ''), rel),
            seg_fields=[], reduce_zero_label=False,
            sample_idx=idx if idx >= 0 else len(self) + idx)

    def prepare_data(self, idx: int) -> Any:
        """The pipeline's output; a missing or undecodable image is an error
        naming it and its split-file line, or skipped (``None``) with
        ``skip_unreadable``."""
        info = self.get_data_info(idx)
        try:
            return self.pipeline(info)
        except Exception as err:
            reason = unreadable_reason(info['img_path'], self.backend_args)
            if reason is None:
                raise  # the image is fine: the pipeline's own error
            where = self._where(
                PackedPaths(self.data_bytes, self.data_address)[idx])
            if self.skip_unreadable and not self.test_mode:
                self.num_skipped += 1
                n = self.num_skipped
                if n & (n - 1) == 0:  # 1, 2, 4, 8, ...
                    print_log(
                        f'UnlabeledImageDataset: skipped {n} unreadable '
                        f'image(s) in this process so far; latest: '
                        f'{info["img_path"]} {reason}{where}',
                        logger='current', level=logging.WARNING)
                return None
            kind = FileNotFoundError if reason == 'does not exist' else OSError
            raise kind(
                f'UnlabeledImageDataset: {info["img_path"]} {reason}{where}. '
                'Fix or remove the line, check all images at once with '
                '`tools/select_data.py check`, or set skip_unreadable=True '
                'to skip such images in training.') from err

    def _where(self, rel: str) -> str:
        """``' (listed on SPLIT:LINE)'``; the split file is read again, so no
        line numbers are held per image."""
        if not self.ann_file:
            return ' (found by scanning the image folder)'
        lines = find_lines(self.ann_file, rel, self.backend_args)
        at = ', '.join(f'{self.ann_file}:{n}' for n in lines) or \
            f'{self.ann_file} (line not found: the file changed)'
        return f' (listed on {at})'
