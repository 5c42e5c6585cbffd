"""OpenEarthMap dataset (8 land-cover classes, 0 = unknown)."""
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS


@DATASETS.register_module()
class OpenEarthMapDataset(BaseSegDataset):
    """OpenEarthMap (Xia et al., WACV 2023), in mmseg's folder layout.

    Convert the released ``OpenEarthMap_wo_xBD`` folder with
    ``tools/dataset_converters/openearthmap.py``: images go to
    ``img_dir/{train,val,test}`` and label maps to ``ann_dir/{train,val}``,
    both as ``.png``. Label value 0 is "unknown" and is ignored
    (``reduce_zero_label=True`` maps it to 255 and 1..8 to classes 0..7).

    Args:
        img_suffix (str): Image file suffix. Defaults to '.png'.
        seg_map_suffix (str): Label map suffix. Defaults to '.png'.
        reduce_zero_label (bool): Ignore label 0 ("unknown"). Defaults to
            True.
        **kwargs: Arguments of :class:`mmseg.datasets.BaseSegDataset`.
    """
    METAINFO = dict(
        classes=('bareland', 'rangeland', 'developed space', 'road', 'tree',
                 'water', 'agriculture land', 'building'),
        # the colours of the OpenEarthMap release
        palette=[[128, 0, 0], [0, 255, 36], [148, 148, 148], [255, 255, 255],
                 [34, 97, 38], [0, 69, 255], [75, 181, 73], [222, 31, 7]])

    def __init__(self,
                 img_suffix: str = '.png',
                 seg_map_suffix: str = '.png',
                 reduce_zero_label: bool = True,
                 **kwargs) -> None:
        super().__init__(
            img_suffix=img_suffix,
            seg_map_suffix=seg_map_suffix,
            reduce_zero_label=reduce_zero_label,
            **kwargs)
