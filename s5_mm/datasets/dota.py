"""DOTA-v2 with label files checked line by line."""
import glob
import os.path as osp
from typing import List

from mmrotate.datasets import DOTAv2Dataset
from mmrotate.registry import DATASETS

from s5_mm.datasets.checks.rotated_labels import dota_label_problems


@DATASETS.register_module()
class StrictDOTAv2Dataset(DOTAv2Dataset):
    """mmrotate's :class:`DOTAv2Dataset` that checks its label files first.

    mmrotate's loader stops with a bare ``IndexError`` / ``ValueError`` /
    ``KeyError`` on a malformed line and says neither file nor line; this
    class raises a ``ValueError`` naming both. Patches without objects
    (empty label files) are kept unless ``filter_cfg.filter_empty_gt``.
    Arguments are those of :class:`DOTAv2Dataset`.
    """

    def load_data_list(self) -> List[dict]:
        """Check every label file, then load them with mmrotate's loader."""
        if self.ann_file:
            for path in sorted(glob.glob(osp.join(self.ann_file, '*.txt'))):
                _, problems = dota_label_problems(path,
                                                  self.metainfo['classes'])
                if problems:
                    raise ValueError(problems[0].message)
        return super().load_data_list()
