# S4P with ViT-H/16 from the MAE ViT-H checkpoint, converted as in the ViT-B
# config; otherwise the ViT-B config (its FixMatch settings and the options
# its comments list), with the ViT-H geometry of
# configs/_base_/models/upernet_vit-h16.py: 1280 dims, 32 layers, 16 heads,
# out indices (15, 23, 27, 31), gradient checkpointing.
_base_ = './s4p-fixmatch_vit-b_upernet_8xb12-120k_isaid-rs4p-512x512.py'
mae_checkpoint = 'pretrain/mae_pretrain_vit_huge_mmseg.pth'
segmentor = dict(
    backbone=dict(
        embed_dims=1280,
        num_layers=32,
        num_heads=16,
        out_indices=(15, 23, 27, 31),
        with_cp=True,
        init_cfg=dict(checkpoint=mae_checkpoint)),
    neck=dict(embed_dim=1280),
    decode_head=dict(in_channels=[1280] * 4))
model = dict(segmentor=segmentor)
