# Runtime for the rotated-detection configs: mmrotate scope and visualizer
# on top of the s5_mm default runtime (which imports s5_mm).
_base_ = ['./default_runtime.py']
default_scope = 'mmrotate'
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
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='mmdet.DetVisualizationHook'))
visualizer = dict(
    type='RotLocalVisualizer',
    vis_backends=[dict(type='LocalVisBackend')],
    name='visualizer',
    _delete_=True)
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=True)
tta_model = None
