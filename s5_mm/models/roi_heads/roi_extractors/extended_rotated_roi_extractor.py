"""Rotated RoI extractor that enlarges every RoI first (OBBDetection's
``OBBSingleRoIExtractor(extend_factor=...)``, used by the S5 authors)."""
from typing import Optional, Sequence, Tuple, Union

from mmengine.utils import to_2tuple
from mmrotate.models.roi_heads.roi_extractors import RotatedSingleRoIExtractor
from mmrotate.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class ExtendedRotatedRoIExtractor(RotatedSingleRoIExtractor):
    """mmrotate's :class:`RotatedSingleRoIExtractor` on enlarged RoIs.

    With several feature levels, every RoI (batch id, x, y, w, h, theta) gets
    its height times ``extend_factor[0]`` and its width times
    ``extend_factor[1]`` (centre and angle kept) before anything else: the
    enlarged RoI picks the FPN level (``finest_scale`` rule on
    sqrt(w * h)) and is the region that RoIAlignRotated samples. This is
    OBBDetection's ``OBBSingleRoIExtractor.forward`` (jbwang1997/OBBDetection,
    ``roi_rescale(rois, extend_factor)`` before ``map_roi_levels``); with one
    feature level it samples the RoIs unchanged, as theirs does.

    Args:
        extend_factor (float | Sequence[float]): (height, width) factors, or
            one factor for both. Defaults to (1.0, 1.0) (no change).
        **kwargs: Arguments of :class:`RotatedSingleRoIExtractor`.
    """

    def __init__(self,
                 extend_factor: Union[float, Sequence[float]] = (1.0, 1.0),
                 **kwargs) -> None:
        super().__init__(**kwargs)
        factor: Tuple[float, float] = tuple(to_2tuple(extend_factor))
        if len(factor) != 2 or min(factor) <= 0:
            raise ValueError('extend_factor must be one positive number or '
                             f'(height, width) positive numbers, got '
                             f'{extend_factor!r}')
        self.extend_factor = factor

    def forward(self,
                feats: Tuple[Tensor],
                rois: Tensor,
                roi_scale_factor: Optional[float] = None) -> Tensor:
        """Extract features of the enlarged ``rois`` (see the class)."""
        if len(feats) > 1:
            rois = self.roi_rescale(rois, self.extend_factor)
        return super().forward(feats, rois, roi_scale_factor)
