# The S5 authors' released S4P model, ViT-L + UperNet
# (`vit_l_s4p_upernet.pth`), rebuilt exactly: the ViT-B file with the ViT-L
# geometry of configs/_base_/models/upernet_vit-l16.py (1024 dims, 24
# layers, 16 heads, out indices 7/11/15/23, gradient checkpointing).
# Convert with
#   python tools/model_converters/s5_to_s5mm.py vit_l_s4p_upernet.pth \
#       checkpoints/s5-released_s4p_vit-l.pth --check-config THIS_CONFIG
_base_ = './s5-released_s4p_vit-b_upernet_isaid-512x512.py'
model = dict(
    backbone=dict(
        embed_dims=1024,
        num_layers=24,
        num_heads=16,
        out_indices=(7, 11, 15, 23),
        with_cp=True),
    neck=dict(embed_dim=1024),
    decode_head=dict(in_channels=[1024] * 4))
