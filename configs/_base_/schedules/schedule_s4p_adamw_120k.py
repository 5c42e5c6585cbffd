# S4P schedule of S5: 120k iterations, AdamW lr 5e-5 (betas 0.9, 0.999),
# weight decay 0.01, cosine to 0, mixed precision; validation and a
# checkpoint (3 kept) every 10k iterations.
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
    # stop before the first iteration if a head's num_classes differs from
    # its dataset's class count
    dataset_check=dict(type='DatasetClassCheckHook'),
    # s5_mm reliability hooks (docs/reliability.md): RNG states in
    # checkpoints for an exact resume; strict checkpoint loading
    rng_state=dict(type='RNGStateHook'),
    strict_load=dict(type='StrictLoadHook'),
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=10000,
                    max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
# lr above is for 8 GPUs x (12 + 12) images
auto_scale_lr = dict(enable=False, base_batch_size=192)
