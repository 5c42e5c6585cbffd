# Oriented R-CNN (le90) on a plain ViT-H/16 (1280 dims, 32 layers, 16 heads,
# out indices (7, 15, 23, 31), drop path 0.3); otherwise as
# oriented-rcnn-le90_vit-b_fpn.py, whose comments describe the detector.
_base_ = './oriented-rcnn-le90_vit-b_fpn.py'
model = dict(
    backbone=dict(
        embed_dims=1280,
        num_layers=32,
        num_heads=16,
        out_indices=(7, 15, 23, 31),
        drop_path_rate=0.3),
    neck=dict(embed_dim=1280),
    branch_neck=dict(in_channels=[1280] * 4))
