# The default hooks of every shipped schedule (schedules/*.py inherit this
# file and set the checkpoint interval and, for detection, the visualizer).
# It cannot be part of default_runtime.py: mmengine refuses a key defined by
# two sibling bases, and the schedules set default_hooks.
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
    checkpoint=dict(type='CheckpointHook'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
