"""MoE-FFN Vision Transformer (MoEViT). Owner: issue 3."""
