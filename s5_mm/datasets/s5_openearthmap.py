"""OpenEarthMap with the S5 authors' label set: 9 classes, 0 = unknown."""
from mmseg.registry import DATASETS

from s5_mm.datasets.openearthmap import OpenEarthMapDataset


@DATASETS.register_module()
class S5OpenEarthMapDataset(OpenEarthMapDataset):
    """OpenEarthMap as the S5 authors train and evaluate it: label 0
    ("unknown", their class 'other') is a class of its own, so there are 9
    classes (label values 0..8 as released) and nothing is ignored
    (`S5 <https://arxiv.org/abs/2508.12409>`_; MiliLab/S5
    ``RS_Finetune/Semantic_Segmentation/configs/rsseg.yaml``: ``nclass: 9``,
    ``ignore_index: 255``, ``util/classes.py``: ``'other'`` first). Their
    released OpenEarthMap head has 9 outputs; their mIoU is the mean over
    these 9 classes.

    Same files as :class:`OpenEarthMapDataset`
    (``tools/dataset_converters/openearthmap.py``); only the label set
    differs. Use :class:`OpenEarthMapDataset` (8 classes, 0 ignored) for
    s5_mm's own models.

    Args:
        reduce_zero_label (bool): Must stay False (label 0 is a class).
        **kwargs: Arguments of :class:`OpenEarthMapDataset`.
    """
    METAINFO = dict(
        classes=('unknown', ) + OpenEarthMapDataset.METAINFO['classes'],
        palette=[[0, 0, 0]] + OpenEarthMapDataset.METAINFO['palette'])

    def __init__(self, reduce_zero_label: bool = False, **kwargs) -> None:
        if reduce_zero_label:
            raise ValueError(
                'S5OpenEarthMapDataset: label 0 (unknown) is a class of the '
                'S5 label set; reduce_zero_label must be False (use '
                'OpenEarthMapDataset for the 8-class set)')
        super().__init__(reduce_zero_label=False, **kwargs)
