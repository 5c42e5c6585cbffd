# UperNet on ViT-H/16 (1280 dims, 32 layers, 16 heads, out indices
# (15, 23, 27, 31)) as in S5, with gradient checkpointing. Backbone 631.97M,
# neck 19.67M, head 11.74M with 6 classes.
_base_ = './upernet_vit-b16.py'
model = dict(
    backbone=dict(
        embed_dims=1280,
        num_layers=32,
        num_heads=16,
        out_indices=(15, 23, 27, 31),
        with_cp=True),
    neck=dict(embed_dim=1280),
    decode_head=dict(in_channels=[1280, 1280, 1280, 1280]))
