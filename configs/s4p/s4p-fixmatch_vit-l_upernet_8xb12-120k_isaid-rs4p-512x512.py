# S4P with ViT-L/16 (1024 dims, 24 layers, out indices (7, 11, 15, 23)),
# gradient checkpointing; otherwise as the ViT-B config.
_base_ = ['./s4p-fixmatch_vit-b_upernet_8xb12-120k_isaid-rs4p-512x512.py']
model = dict(
    segmentor=dict(
        backbone=dict(
            embed_dims=1024, num_layers=24, num_heads=16,
            out_indices=(7, 11, 15, 23), with_cp=True,
            init_cfg=dict(
                checkpoint='pretrain/mae_pretrain_vit_large_mmseg.pth')),
        neck=dict(embed_dim=1024),
        decode_head=dict(in_channels=[1024, 1024, 1024, 1024])))
