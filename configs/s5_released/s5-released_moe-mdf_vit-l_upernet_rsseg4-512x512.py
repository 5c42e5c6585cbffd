# The S5 authors' released segmentation model, MoE-MDF ViT-L (P = 256, 4
# experts), rebuilt exactly: the ViT-B file (same expert order, heads, final
# resize and test protocol) with the ViT-L geometry of
# configs/_base_/models/upernet_vit-l16.py: 1024 dims, 24 layers, 16 heads,
# out indices 7/11/15/23, gradient checkpointing.
# Convert with
#   python tools/model_converters/s5_to_s5mm.py <released ViT-L seg file> \
#       checkpoints/s5-released_moe-mdf_vit-l.pth --check-config THIS_CONFIG
_base_ = './s5-released_moe-mdf_vit-b_upernet_rsseg4-512x512.py'
# as in the ViT-L MoE-MDF training config (init_cfg is None here)
s4p_checkpoint = 'pretrain/s4p_vit-l_rs4p-1m.pth'
model = dict(
    backbone=dict(
        embed_dims=1024,
        num_layers=24,
        num_heads=16,
        out_indices=(7, 11, 15, 23),
        with_cp=True),
    neck=dict(embed_dim=1024),
    decode_heads={
        name: dict(in_channels=[1024] * 4)
        for name in _base_.model.decode_heads
    })
optim_wrapper = dict(paramwise_cfg=dict(num_layers=24))
