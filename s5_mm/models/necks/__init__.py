from .feature2pyramid_ln import Feature2PyramidLN

__all__ = ['Feature2PyramidLN']
