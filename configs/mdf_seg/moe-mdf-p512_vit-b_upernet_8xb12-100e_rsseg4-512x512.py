# MoE-MDF (S5), P = 512 experts per dataset on ViT-B. 188.7M parameters.
_base_ = './moe-mdf-p256_vit-b_upernet_8xb12-100e_rsseg4-512x512.py'
model = dict(backbone=dict(expert_channels=512))
