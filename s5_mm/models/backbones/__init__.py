from .moe_vit import MoEFFN, MoETransformerEncoderLayer, MoEViT

__all__ = ['MoEFFN', 'MoETransformerEncoderLayer', 'MoEViT']
