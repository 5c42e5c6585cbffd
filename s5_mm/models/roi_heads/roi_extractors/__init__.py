from .extended_rotated_roi_extractor import ExtendedRotatedRoIExtractor

__all__ = ['ExtendedRotatedRoIExtractor']
