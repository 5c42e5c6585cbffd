# S4P with ViT-L/16 from the MAE ViT-L checkpoint, converted as in the ViT-B
# config; otherwise the ViT-B config (its FixMatch settings and the options
# its comments list), with the ViT-L geometry of
# configs/_base_/models/upernet_vit-l16.py: 1024 dims, 24 layers, 16 heads,
# out indices (7, 11, 15, 23), gradient checkpointing.
_base_ = './s4p-fixmatch_vit-b_upernet_8xb12-120k_isaid-rs4p-512x512.py'
mae_checkpoint = 'pretrain/mae_pretrain_vit_large_mmseg.pth'
segmentor = dict(
    backbone=dict(
        embed_dims=1024,
        num_layers=24,
        num_heads=16,
        out_indices=(7, 11, 15, 23),
        with_cp=True,
        init_cfg=dict(checkpoint=mae_checkpoint)),
    neck=dict(embed_dim=1024),
    decode_head=dict(in_channels=[1024] * 4))
model = dict(segmentor=segmentor)
