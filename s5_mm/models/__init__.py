from . import backbones, detectors, necks, segmentors, utils  # noqa: F401
