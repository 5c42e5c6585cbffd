# Segmentation fine-tuning schedule of S5 (SDF / MDF / MoE-MDF): AdamW lr
# 5e-5, weight decay 0.05, layer-wise lr decay 0.9, cosine to 0, 100 epochs
# counted in iterations (the multi-dataset sampler is infinite). A config
# sets `iters_per_epoch` and derives train_cfg / param_scheduler / hook
# intervals from it; set paramwise_cfg.num_layers to the ViT depth
# (12/24/32).
_base_ = ['../default_hooks.py']
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=5e-5, betas=(0.9, 0.999),
                   weight_decay=0.05),
    constructor='LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.9, num_layers=12))
default_hooks = dict(checkpoint=dict(by_epoch=False, max_keep_ckpts=2))
# lr above is for 8 GPUs x 12 images per dataset; scaled by --auto-scale-lr
auto_scale_lr = dict(enable=False, base_batch_size=96)
