# MoE-MDF (S5) with a MoE ViT-L (24 layers, 1024 dims, P = 256) on DIOR-R +
# DOTA-v2, Oriented R-CNN (le90). 377.8M parameters.
_base_ = [
    './moe-mdf-p256_vit-b_oriented-rcnn-le90_8xb2-12e_dior-r-dota2-1024x1024.py'
]
model = dict(
    backbone=dict(
        embed_dims=1024, num_layers=24, num_heads=16,
        out_indices=(7, 11, 15, 23), drop_path_rate=0.2),
    neck=dict(embed_dim=1024),
    branch_neck=dict(in_channels=[1024] * 4))
optim_wrapper = dict(paramwise_cfg=dict(num_layers=24))
