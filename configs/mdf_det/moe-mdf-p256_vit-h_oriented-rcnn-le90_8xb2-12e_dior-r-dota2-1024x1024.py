# MoE-MDF (S5) with a MoE ViT-H (32 layers, 1280 dims, P = 256) on DIOR-R +
# DOTA-v2, Oriented R-CNN (le90). 730.0M parameters.
_base_ = [
    './moe-mdf-p256_vit-b_oriented-rcnn-le90_8xb2-12e_dior-r-dota2-1024x1024.py'
]
model = dict(
    backbone=dict(
        embed_dims=1280, num_layers=32, num_heads=16,
        out_indices=(7, 15, 23, 31), drop_path_rate=0.3),
    neck=dict(embed_dim=1280),
    branch_neck=dict(in_channels=[1280] * 4))
optim_wrapper = dict(paramwise_cfg=dict(num_layers=32))
