# MoE-MDF (S5) with a MoE ViT-H (32 layers, 1280 dims, P = 256;
# configs/_base_/models/oriented-rcnn-le90_vit-h_fpn.py) on DIOR-R +
# DOTA-v2, Oriented R-CNN (le90); otherwise as the ViT-B config.
# 730.0M parameters.
_base_ = [
    '../_base_/models/oriented-rcnn-le90_vit-h_fpn.py',
    '../_base_/datasets/dior_r_dota_v2.py',
    '../_base_/schedules/schedule_mdf-det_adamw_12e.py',
    '../_base_/det_runtime.py',
]
model = dict(
    dataset_names=_base_.dior_dota_dataset_names,
    num_classes=_base_.dior_dota_num_classes,
    backbone=dict(
        type='mmseg.MoEViT',
        dataset_names=_base_.dior_dota_dataset_names,
        expert_channels=256))
# layer-wise lr decay over the depth of the base model's ViT
optim_wrapper = dict(
    paramwise_cfg=dict(num_layers=_base_.model.backbone.num_layers))
log_processor = dict(by_epoch=False)  # iteration-based training
