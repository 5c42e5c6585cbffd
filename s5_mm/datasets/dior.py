"""DIOR-R with annotation XMLs checked object by object."""
import os.path as osp
from typing import List

from mmengine.fileio import list_from_file
from mmrotate.datasets import DIORDataset
from mmrotate.registry import DATASETS

from s5_mm.datasets.checks.rotated_labels import dior_label_problems


@DATASETS.register_module()
class StrictDIORDataset(DIORDataset):
    """mmrotate's :class:`DIORDataset` that checks its XMLs first.

    mmrotate's parser stops with ``AttributeError`` on an object without
    ``<robndbox>``, ``KeyError`` on an unknown or badly spelt class
    (``'golffield '``) and takes ``nan`` coordinates, naming no file. This
    class raises a ``ValueError`` naming the XML and the object, by the
    rules ``tools/analysis_tools/check_dataset.py`` applies
    (:mod:`s5_mm.datasets.checks.rotated_labels`): names compared as
    mmrotate compares them (lower-cased, whitespace kept). Arguments are
    those of :class:`DIORDataset`.
    """

    def load_data_list(self) -> List[dict]:
        """Check every listed XML, then load them with mmrotate's parser."""
        classes = self.metainfo['classes']
        for img_id in list_from_file(self.ann_file,
                                     backend_args=self.backend_args):
            path = osp.join(self.data_root, self.ann_subdir, f'{img_id}.xml')
            if not osp.isfile(path):
                raise FileNotFoundError(
                    f'{self.ann_file} lists {img_id!r} but its annotation '
                    f'{path} does not exist')
            _, problems = dior_label_problems(path, classes)
            if problems:
                raise ValueError(problems[0].message)
        return super().load_data_list()
