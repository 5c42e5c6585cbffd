from . import moe_vit  # noqa: F401
