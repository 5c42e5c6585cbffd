from . import feature2pyramid_ln  # noqa: F401
