from . import (backbones, detectors, necks, roi_heads,  # noqa: F401
               segmentors, utils)
