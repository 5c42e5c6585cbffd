# SDF (S5): ViT-L/16 + UperNet fine-tuned on Vaihingen alone. 327.4M
# parameters. The recipe is the ViT-B one's (this file inherits it), with
# the ViT-L geometry of configs/_base_/models/upernet_vit-l16.py (1024 dims,
# 24 layers, 16 heads, out indices (7, 11, 15, 23), gradient
# checkpointing) and the ViT-L S4P checkpoint.
_base_ = './sdf_vit-b_upernet_8xb12-100e_vaihingen-512x512.py'
s4p_checkpoint = 'pretrain/s4p_vit-l_rs4p-1m.pth'
model = dict(
    backbone=dict(
        embed_dims=1024,
        num_layers=24,
        num_heads=16,
        out_indices=(7, 11, 15, 23),
        with_cp=True,
        init_cfg=dict(checkpoint=s4p_checkpoint)),
    neck=dict(embed_dim=1024),
    decode_head=dict(in_channels=[1024] * 4))
# layer-wise lr decay over the depth of the ViT
optim_wrapper = dict(paramwise_cfg=dict(num_layers=24))
