from . import (backbones, decode_heads, detectors, necks,  # noqa: F401
               roi_heads, segmentors, utils)
