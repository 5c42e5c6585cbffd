# The S5 authors' released MoE-MDF detector, ViT-L (DIOR-R + DOTA-v2):
# their configs/obb/oriented_rcnn/mtd/vit_l_moe_dior_r_dota2.py rebuilt as
# the ViT-B file (see there; its heads, RoI extractor and test settings are
# kept): ViT-L/16 (1024 dims, 24 layers, 16 heads, out indices
# (7, 11, 15, 23), drop path 0.1), 2 experts (P = 256), FPN 4 x 1024 -> 256.
_base_ = ['./s5-released_moe-mdf_vit-b_oriented-rcnn-le90_dior-r-dota2-'
          '1024x1024.py']
model = dict(
    backbone=dict(
        embed_dims=1024,
        num_layers=24,
        num_heads=16,
        out_indices=(7, 11, 15, 23)),
    neck=dict(embed_dim=1024),
    branch_neck=dict(in_channels=[1024] * 4))
optim_wrapper = dict(paramwise_cfg=dict(num_layers=24))
