# S4P with ViT-H/16 (1280 dims, 32 layers, out indices (15, 23, 27, 31)),
# gradient checkpointing; otherwise as the ViT-B config.
_base_ = ['./s4p-fixmatch_vit-b_upernet_8xb12-120k_isaid-rs4p-512x512.py']
model = dict(
    segmentor=dict(
        backbone=dict(
            embed_dims=1280, num_layers=32, num_heads=16,
            out_indices=(15, 23, 27, 31), with_cp=True,
            init_cfg=dict(
                checkpoint='pretrain/mae_pretrain_vit_huge_mmseg.pth')),
        neck=dict(embed_dim=1280),
        decode_head=dict(in_channels=[1280, 1280, 1280, 1280])))
