from .roi_extractors import ExtendedRotatedRoIExtractor

__all__ = ['ExtendedRotatedRoIExtractor']
