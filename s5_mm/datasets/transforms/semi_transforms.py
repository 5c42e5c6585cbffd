"""Transforms for the views of semi-supervised segmentation (S4P).

The weak / strong views are built with mmdet's ``MultiBranch`` wrapper and
existing mmcv / mmseg / mmpretrain transforms (see the S4P configs). The only
missing piece is a label map for unlabeled images that tells the model which
pixels are real image content and which are padding.
"""
import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS


@TRANSFORMS.register_module()
class LoadIgnoreMask(BaseTransform):
    """Give an unlabeled image a ``gt_seg_map`` that marks padding.

    The map is filled with ``valid_value`` (0) and registered in
    ``seg_fields``, so geometric transforms after it move (and pad) it with
    the image, ``PackSegInputs`` packs it as ``gt_sem_seg`` and
    ``SegDataPreProcessor`` pads it with ``seg_pad_val`` (255). The FixMatch
    segmentor reads pixels equal to the ignore index as padding and never
    gives them a pseudo-label loss.

    Place it after transforms that never pad (mmcv's ``RandomResize``,
    mmseg's ``RandomCrop`` with the default ``cat_max_ratio=1``, which
    crops at most the whole image, and ``RandomFlip``): the map is then the
    same, all valid, and is made at the final size instead of being resized
    and cropped with the image, as the S4P configs do. Before any transform
    that pads (``Pad``, a rotation with a border), it must come first.

    Required keys: ``img``. Added keys: ``gt_seg_map``, ``seg_fields``.

    Args:
        valid_value (int): Value of real image pixels; must differ from the
            ignore index. Defaults to 0.
    """

    def __init__(self, valid_value: int = 0) -> None:
        if not 0 <= valid_value < 255:
            raise ValueError(
                f'LoadIgnoreMask: valid_value must be in [0, 254] (255 marks '
                f'padding), got {valid_value}')
        self.valid_value = valid_value

    def transform(self, results: dict) -> dict:
        """Add the all-valid map."""
        h, w = results['img'].shape[:2]
        results['gt_seg_map'] = np.full((h, w), self.valid_value, np.uint8)
        seg_fields = results.setdefault('seg_fields', [])
        if 'gt_seg_map' not in seg_fields:
            seg_fields.append('gt_seg_map')
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(valid_value={self.valid_value})'
