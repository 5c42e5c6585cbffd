from . import (backbones, decode_heads, detectors, necks,  # noqa: F401
               segmentors, utils)
