# Detection fine-tuning schedule of S5 (MoE-MDF): AdamW lr 1e-4, weight
# decay 0.05, layer-wise lr decay 0.9, 12 epochs with lr steps (x0.1) after
# epochs 8 and 11, 500-iteration linear warm-up, mixed precision, gradient
# clipping at 35. Set paramwise_cfg.num_layers to the ViT depth (12/24/32).
_base_ = ['../default_hooks.py']
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=12, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='LinearLR', start_factor=1.0 / 3, by_epoch=False, begin=0,
         end=500),
    dict(type='MultiStepLR', begin=0, end=12, by_epoch=True,
         milestones=[8, 11], gamma=0.1),
]
optim_wrapper = dict(
    type='AmpOptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999),
                   weight_decay=0.05),
    # registered in mmseg's registry by s5_mm
    constructor='mmseg.LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.9, num_layers=12),
    clip_grad=dict(max_norm=35, norm_type=2))
default_hooks = dict(
    checkpoint=dict(interval=1, max_keep_ckpts=3),
    visualization=dict(type='mmdet.DetVisualizationHook'))
# lr above is for 8 GPUs x 2 images; scaled by --auto-scale-lr
auto_scale_lr = dict(enable=False, base_batch_size=16)
