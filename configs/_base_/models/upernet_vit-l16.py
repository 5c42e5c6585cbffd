# UperNet on ViT-L/16 (1024 dims, 24 layers, 16 heads, out indices
# (7, 11, 15, 23)) as in S5, with gradient checkpointing. 327.4M parameters
# with 6 classes (backbone 304.15 + neck 12.59 + head 10.69).
_base_ = './upernet_vit-b16.py'
model = dict(
    backbone=dict(
        embed_dims=1024,
        num_layers=24,
        num_heads=16,
        out_indices=(7, 11, 15, 23),
        with_cp=True),
    neck=dict(embed_dim=1024),
    decode_head=dict(in_channels=[1024, 1024, 1024, 1024]))
