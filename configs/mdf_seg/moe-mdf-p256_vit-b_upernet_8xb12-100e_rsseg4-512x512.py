# MoE-MDF (S5), P = 256: the MDF model whose ViT-B FFNs have one 256-channel
# expert per dataset (MoEViT); the dense S4P fc2 initialises the shared part
# and every expert. 160.4M parameters.
_base_ = './mdf_vit-b_upernet_8xb12-100e_rsseg4-512x512.py'
model = dict(
    backbone=dict(
        type='MoEViT',
        dataset_names={{_base_.rsseg4_dataset_names}},
        expert_channels=256))
