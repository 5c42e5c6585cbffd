# MoE-MDF (S5): one MoE ViT-B (P = 256 expert channels per FFN, one expert
# per dataset) + Feature2Pyramid shared by DIOR-R and DOTA-v2; each dataset
# has its own FPN, oriented RPN head and RoI head (Oriented R-CNN, le90).
# Every batch holds 2 DIOR-R + 2 DOTA-v2 images per GPU (8 GPUs), mixed
# in one backbone pass. 138.3M parameters.
_base_ = [
    '../_base_/models/oriented-rcnn-le90_vit-b_fpn.py',
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
# Start from S4P-pretrained (or MAE) weights: every expert is initialised
# from the last 256 rows of the dense fc2, so the MoE ViT starts as the
# dense one; pos_embed is resized to the 512-input grid. E.g.
#   model.backbone.init_cfg = dict(type='Pretrained', prefix='backbone.',
#       checkpoint='work_dirs/s4p-fixmatch_vit-b_.../iter_120000.pth')
log_processor = dict(by_epoch=False)  # iteration-based training
