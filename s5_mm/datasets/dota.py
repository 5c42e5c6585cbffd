"""DOTA-v2 with label files checked line by line."""
import glob
import os.path as osp
from typing import List, Sequence

from mmrotate.datasets import DOTAv2Dataset
from mmrotate.registry import DATASETS


def check_dota_label_file(path: str, classes: Sequence[str]) -> int:
    """Check every line of a DOTA label file (as written by mmrotate's split
    tool): ``x1 y1 x2 y2 x3 y3 x4 y4 class difficulty``.

    Args:
        path (str): the label (``.txt``) file.
        classes (Sequence[str]): the class names the dataset knows.

    Returns:
        int: number of objects in the file (0 for a patch without objects).

    Raises:
        ValueError: naming the file, the line number and the problem.
    """
    known = set(classes)
    with open(path, encoding='utf-8') as f:
        lines = f.readlines()
    for number, line in enumerate(lines, 1):
        fields = line.split()
        where = f'{path}, line {number}: {line.rstrip()!r}'
        if len(fields) != 10:
            raise ValueError(
                f'malformed DOTA label line in {where}: expected 10 fields '
                '"x1 y1 x2 y2 x3 y3 x4 y4 class difficulty", got '
                f'{len(fields)}. Split the raw DOTA files with mmrotate\'s '
                'tools/data/dota/split (which drops the imagesource/gsd '
                'header lines) or fix the line')
        try:
            list(map(float, fields[:8]))
            int(fields[9])
        except ValueError:
            raise ValueError(
                f'malformed DOTA label line in {where}: the 8 coordinates '
                'must be numbers and the difficulty an integer') from None
        if fields[8] not in known:
            raise ValueError(
                f'unknown class {fields[8]!r} in {where}: this dataset has '
                f'classes {list(classes)} (check the DOTA version, or set '
                'metainfo=dict(classes=...))')
    return len(lines)


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
                check_dota_label_file(path, self.metainfo['classes'])
        return super().load_data_list()
