"""DOTA-v2 with label files checked line by line."""
import glob
import logging
import os.path as osp
from typing import List

from mmengine.logging import print_log
from mmrotate.datasets import DOTAv2Dataset
from mmrotate.registry import DATASETS

from s5_mm.datasets.checks.rotated_labels import dota_label_problems

#: image paths quoted in the images-without-labels message
SHOW_PATHS = 5


def images_without_labels(img_dir: str, ann_dir: str,
                          img_suffix: str) -> List[str]:
    """Images of ``img_dir`` (``*.{img_suffix}``) with no ``.txt`` of the
    same name in ``ann_dir``, sorted."""
    images = sorted(glob.glob(osp.join(img_dir, f'*.{img_suffix}')))
    return [p for p in images if not osp.isfile(
        osp.join(ann_dir, osp.splitext(osp.basename(p))[0] + '.txt'))]


def unlabeled_message(paths: List[str], img_dir: str, ann_dir: str) -> str:
    """One message: the count and the first paths."""
    shown = ', '.join(paths[:SHOW_PATHS])
    more = f' and {len(paths) - SHOW_PATHS} more' if \
        len(paths) > SHOW_PATHS else ''
    return (f'{len(paths)} image(s) in {img_dir} have no label file in '
            f'{ann_dir} and are not used: {shown}{more} (an image without '
            'objects needs an empty .txt file)')


@DATASETS.register_module()
class StrictDOTAv2Dataset(DOTAv2Dataset):
    """mmrotate's :class:`DOTAv2Dataset` that checks its label files first.

    mmrotate's loader stops with a bare ``IndexError`` / ``ValueError`` /
    ``KeyError`` on a malformed line, takes ``nan`` coordinates and negative
    difficulties, and says neither file nor line; this class raises a
    ``ValueError`` naming both (rules:
    :mod:`s5_mm.datasets.checks.rotated_labels`). Patches without objects
    (empty label files) are kept unless ``filter_cfg.filter_empty_gt``.
    Images without a label file are not loaded (as in mmrotate): they are
    counted in a warning with the first paths, or an error with
    ``images_without_labels='error'``.

    Args:
        images_without_labels (str): 'warn' (default) or 'error'.
        **kwargs: Arguments of :class:`DOTAv2Dataset`.
    """

    def __init__(self, *args, images_without_labels: str = 'warn',
                 **kwargs) -> None:
        if images_without_labels not in ('warn', 'error'):
            raise ValueError("images_without_labels must be 'warn' or "
                             f"'error', got {images_without_labels!r}")
        self.images_without_labels = images_without_labels
        super().__init__(*args, **kwargs)

    def load_data_list(self) -> List[dict]:
        """Check every label file, then load them with mmrotate's loader."""
        if self.ann_file:
            for path in sorted(glob.glob(osp.join(self.ann_file, '*.txt'))):
                _, problems = dota_label_problems(path,
                                                  self.metainfo['classes'])
                if problems:
                    raise ValueError(problems[0].message)
            img_dir = self.data_prefix['img_path']
            missing = images_without_labels(img_dir, self.ann_file,
                                            self.img_suffix)
            if missing:
                message = unlabeled_message(missing, img_dir, self.ann_file)
                if self.images_without_labels == 'error':
                    raise ValueError(message)
                print_log(message, logger='current', level=logging.WARNING)
        return super().load_data_list()
