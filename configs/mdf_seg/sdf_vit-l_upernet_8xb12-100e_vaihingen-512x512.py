# SDF (S5): ViT-L/16 (configs/_base_/models/upernet_vit-l16.py, gradient
# checkpointing) + UperNet fine-tuned on Vaihingen alone. 327.4M
# parameters. The recipe is the ViT-B one's.
_base_ = [
    '../_base_/models/upernet_vit-l16.py',
    '../_base_/datasets/vaihingen.py',
    '../_base_/datasets/sdf_loaders.py',
    '../_base_/schedules/schedule_seg_adamw_100e.py',
    '../_base_/default_runtime.py',
]
s4p_checkpoint = 'pretrain/s4p_vit-l_rs4p-1m.pth'
model = dict(
    backbone=dict(
        init_cfg=dict(type='Pretrained', checkpoint=s4p_checkpoint)),
    decode_head=dict(num_classes=_base_.vaihingen_num_classes))
train_dataloader = dict(dataset={{_base_.vaihingen_train_dataset}})
val_dataloader = dict(dataset={{_base_.vaihingen_test_dataset}})
test_dataloader = val_dataloader
val_evaluator = {{_base_.vaihingen_metric}}
test_evaluator = val_evaluator
# one epoch = one pass over the 344 crops of the training set at 12 x 8 GPUs
iters_per_epoch = 344 // (12 * 8)
train_cfg = dict(
    type='IterBasedTrainLoop',
    max_iters=100 * iters_per_epoch,
    val_interval=10 * iters_per_epoch)
param_scheduler = [
    dict(type='CosineAnnealingLR', eta_min=0.0, begin=0,
         end=100 * iters_per_epoch, by_epoch=False)
]
default_hooks = dict(
    checkpoint=dict(interval=10 * iters_per_epoch, save_best='mIoU'))
# layer-wise lr decay over the depth of the base model's ViT
optim_wrapper = dict(
    paramwise_cfg=dict(num_layers=_base_.model.backbone.num_layers))
