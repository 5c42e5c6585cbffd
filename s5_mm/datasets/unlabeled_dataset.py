"""Unlabeled image dataset for semi-supervised segmentation (S4P)."""
import os.path as osp
from typing import List, Optional, Sequence, Union

from mmengine import fileio
from mmengine.dataset import BaseDataset
from mmseg.registry import DATASETS

from s5_mm.selection.split_file import (IMG_SUFFIXES, list_images,
                                       parse_split_lines)


@DATASETS.register_module()
class UnlabeledImageDataset(BaseDataset):
    """Images without labels, read from a folder or from a split file.

    Two ways to list the images:

    * ``ann_file`` empty: every file under ``data_root/data_prefix.img_path``
      whose name ends with one of ``img_suffix`` (case-insensitive), searched
      recursively, in sorted order.
    * ``ann_file`` set: a UTF-8 split file with one image path per line,
      relative to ``data_root/data_prefix.img_path``. This is the format the
      S5 data selector writes, read by the selector's reader
      (:mod:`s5_mm.selection.split_file`): blank lines and lines starting
      with ``#`` are skipped. A listed file that does not exist raises an error naming the
      split file and the line.

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
        **kwargs: Other arguments of :class:`mmengine.dataset.BaseDataset`
            (``data_root``, ``pipeline``, ``metainfo``, ``indices``, ...).
    """

    METAINFO: dict = dict()

    def __init__(self,
                 ann_file: str = '',
                 img_suffix: Union[str, Sequence[str]] = IMG_SUFFIXES,
                 data_prefix: Optional[dict] = None,
                 backend_args: Optional[dict] = None,
                 **kwargs) -> None:
        self.img_suffix = tuple(
            s.lower() for s in ([img_suffix] if isinstance(img_suffix, str)
                                else img_suffix))
        self.backend_args = backend_args
        super().__init__(
            ann_file=ann_file,
            data_prefix=data_prefix or dict(img_path=''),
            **kwargs)

    def load_data_list(self) -> List[dict]:
        """List the images of the folder or of the split file."""
        img_dir = self.data_prefix.get('img_path', '')
        if self.ann_file:
            rel_paths = self._read_split(self.ann_file, img_dir)
        else:
            if not fileio.isdir(img_dir, backend_args=self.backend_args):
                raise FileNotFoundError(
                    f'UnlabeledImageDataset: image folder {img_dir!r} does '
                    'not exist. Set data_root / data_prefix.img_path to the '
                    'folder of unlabeled images, or ann_file to a split file.')
            rel_paths = list_images(img_dir, self.img_suffix,
                                    self.backend_args)
        return [
            dict(img_path=osp.join(img_dir, p), seg_fields=[],
                 reduce_zero_label=False) for p in rel_paths
        ]

    def _read_split(self, split_file: str, img_dir: str) -> List[str]:
        """Read a split file; every listed image must exist."""
        if not fileio.exists(split_file, backend_args=self.backend_args):
            raise FileNotFoundError(
                f'UnlabeledImageDataset: split file {split_file!r} not found '
                '(ann_file is relative to data_root).')
        text = fileio.get_text(split_file, backend_args=self.backend_args)
        rel_paths = []
        for lineno, rel in parse_split_lines(text):
            path = osp.join(img_dir, rel)
            if not fileio.exists(path, backend_args=self.backend_args):
                raise FileNotFoundError(
                    f'UnlabeledImageDataset: {split_file}:{lineno} lists '
                    f'{rel!r}, but {path!r} does not exist. Paths in the '
                    f'split file are relative to the image folder {img_dir!r}; fix '
                    'the line or data_root / data_prefix.img_path.')
            rel_paths.append(rel)
        if not rel_paths:
            raise ValueError(
                f'UnlabeledImageDataset: split file {split_file!r} lists no '
                'image.')
        return rel_paths
