# Oriented R-CNN (le90) on a plain ViT-L/16 (1024 dims, 24 layers, 16 heads,
# out indices (7, 11, 15, 23), drop path 0.2); otherwise as
# oriented-rcnn-le90_vit-b_fpn.py, whose comments describe the detector.
_base_ = './oriented-rcnn-le90_vit-b_fpn.py'
model = dict(
    backbone=dict(
        embed_dims=1024,
        num_layers=24,
        num_heads=16,
        out_indices=(7, 11, 15, 23),
        drop_path_rate=0.2),
    neck=dict(embed_dim=1024),
    branch_neck=dict(in_channels=[1024] * 4))
