# S4P schedule of S5: 120k iterations, AdamW lr 5e-5 (betas 0.9, 0.999),
# weight decay 0.01, cosine to 0, mixed precision; validation and a
# checkpoint (3 kept) every 10k iterations.
_base_ = ['../default_hooks.py']
max_iters = 120000
optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(type='AdamW', lr=5e-5, betas=(0.9, 0.999),
                   weight_decay=0.01))
param_scheduler = [
    dict(type='CosineAnnealingLR', eta_min=0.0, begin=0, end=max_iters,
         by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=10000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    checkpoint=dict(by_epoch=False, interval=10000, max_keep_ckpts=3))
# lr above is for 8 GPUs x (12 + 12) images
auto_scale_lr = dict(enable=False, base_batch_size=192)
