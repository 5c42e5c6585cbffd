# MoE-MDF (S5), P = 256, on ViT-H/16 (dimensions of
# configs/_base_/models/upernet_vit-h16.py, gradient checkpointing).
# 824.5M parameters.
_base_ = './moe-mdf-p256_vit-b_upernet_8xb12-100e_rsseg4-512x512.py'
s4p_checkpoint = 'pretrain/s4p_vit-h_rs4p-1m.pth'
model = dict(
    backbone=dict(
        embed_dims=1280,
        num_layers=32,
        num_heads=16,
        out_indices=(15, 23, 27, 31),
        with_cp=True,
        init_cfg=dict(checkpoint=s4p_checkpoint)),
    neck=dict(embed_dim=1280),
    decode_heads={
        name: dict(in_channels=[1280] * 4)
        for name in ('vaihingen', 'potsdam', 'loveda', 'openearthmap')
    })
optim_wrapper = dict(paramwise_cfg=dict(num_layers=32))
