"""Feature2Pyramid with a channel LayerNorm (the S5 authors' neck layout)."""
from typing import Optional, Sequence

from mmseg.models.necks import Feature2Pyramid
from mmseg.registry import MODELS

# mmpretrain's LayerNorm2d: LayerNorm over the channels of (B, C, H, W) maps.
# Found through the registry, so plain mmseg configs can use it as well:
# dict(type='Feature2Pyramid', norm_cfg=CHANNEL_LN) needs no s5_mm import.
CHANNEL_LN = dict(type='mmpretrain.LN2d', eps=1e-6)


@MODELS.register_module()
class Feature2PyramidLN(Feature2Pyramid):
    """mmseg's :class:`Feature2Pyramid` with a LayerNorm over channels.

    The S5 authors' multi-scale neck (``fpn1``..``fpn4`` inside their ViT)
    has a LayerNorm (eps 1e-6) over channels after the first transposed
    convolution of the 4x branch, where mmseg's ``Feature2Pyramid`` has a
    BatchNorm. This is that variant, with the same parameter names as
    ``Feature2Pyramid`` (``upsample_4x.1.weight`` ...), so an exported model
    can use plain mmseg's ``Feature2Pyramid`` with ``norm_cfg=CHANNEL_LN``.

    Args:
        embed_dim (int): Channels of the ViT features.
        rescales (Sequence[float]): Scales of the 4 outputs.
            Defaults to (4, 2, 1, 0.5).
        norm_cfg (dict, optional): Norm of the 4x branch. Defaults to
            ``dict(type='mmpretrain.LN2d', eps=1e-6)``.
    """

    def __init__(self,
                 embed_dim: int,
                 rescales: Sequence[float] = (4, 2, 1, 0.5),
                 norm_cfg: Optional[dict] = None):
        super().__init__(
            embed_dim,
            rescales=list(rescales),
            norm_cfg=dict(CHANNEL_LN) if norm_cfg is None else norm_cfg)
