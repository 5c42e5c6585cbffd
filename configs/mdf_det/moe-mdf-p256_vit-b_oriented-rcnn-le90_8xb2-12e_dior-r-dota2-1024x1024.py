# MoE-MDF (S5): one MoE ViT-B (P = 256 expert channels per FFN, one expert
# per dataset) + Feature2Pyramid shared by DIOR-R and DOTA-v2; each dataset
# has its own FPN, oriented RPN head and RoI head (Oriented R-CNN, le90).
# Every batch holds 2 DIOR-R + 2 DOTA-v2 images per GPU (8 GPUs), mixed
# in one backbone pass. 138.3M parameters.
_base_ = [
    '../_base_/models/oriented-rcnn-le90_vit-b_fpn.py',
    '../_base_/datasets/dior_r.py',
    '../_base_/datasets/dota_v2.py',
    '../_base_/schedules/schedule_det_adamw_12e.py',
    '../_base_/det_runtime.py',
]
dataset_names = ['dior', 'dota']  # = dior_name, dota_name of the data bases
model = dict(
    dataset_names=dataset_names,
    num_classes=[20, 18],
    backbone=dict(
        type='mmseg.MoEViT',
        dataset_names=dataset_names,
        expert_channels=256))
# Start from S4P-pretrained (or MAE) weights: every expert is initialised
# from the last 256 rows of the dense fc2, so the MoE ViT starts as the
# dense one; pos_embed is resized to the 512-input grid. E.g.
#   model.backbone.init_cfg = dict(type='Pretrained', prefix='backbone.',
#       checkpoint='work_dirs/s4p-fixmatch_vit-b_.../iter_120000.pth')

# A fixed 2 + 2 composition per batch comes from mmdet's MultiSourceSampler
# (an infinite sampler, so training counts iterations). One "epoch" = one
# pass over DIOR-R trainval (11,725 images) at 2 images x 8 GPUs.
imgs_per_dataset_per_gpu = 2
num_gpus = 8
iters_per_epoch = 11725 // (imgs_per_dataset_per_gpu * num_gpus)
train_dataloader = dict(
    batch_size=imgs_per_dataset_per_gpu * len(dataset_names),
    num_workers=4,
    persistent_workers=True,
    sampler=dict(
        type='mmdet.MultiSourceSampler',
        batch_size=imgs_per_dataset_per_gpu * len(dataset_names),
        source_ratio=[1] * len(dataset_names)),
    batch_sampler=None,
    dataset=dict(
        type='mmdet.ConcatDataset',
        datasets=[{{_base_.dior_train_dataset}},
                  {{_base_.dota_train_dataset}}]))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='mmdet.ConcatDataset',
        datasets=[{{_base_.dior_test_dataset}},
                  {{_base_.dota_test_dataset}}]))
test_dataloader = val_dataloader
# mmrotate's DOTAMetric for every dataset: dior/mAP, dota/mAP, ...
val_evaluator = dict(
    type='MultiDatasetDOTAMetric',
    dataset_names=dataset_names,
    metric=dict(type='DOTAMetric', metric='mAP'))
test_evaluator = val_evaluator

train_cfg = dict(
    _delete_=True,
    type='IterBasedTrainLoop',
    max_iters=12 * iters_per_epoch,
    val_interval=iters_per_epoch)
param_scheduler = [
    dict(type='LinearLR', start_factor=1.0 / 3, by_epoch=False, begin=0,
         end=500),
    dict(type='MultiStepLR', begin=0, end=12 * iters_per_epoch,
         by_epoch=False, milestones=[8 * iters_per_epoch,
                                     11 * iters_per_epoch], gamma=0.1),
]
default_hooks = dict(
    checkpoint=dict(by_epoch=False, interval=iters_per_epoch))
log_processor = dict(by_epoch=False)
auto_scale_lr = dict(base_batch_size=32)
load_from = None
