default_scope = 'mmseg'
custom_imports = dict(imports=['s5_mm'], allow_failed_imports=False)
env_cfg = dict(
    cudnn_benchmark=True,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(
    type='SegLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
tta_model = dict(type='SegTTAModel')
# checkpoint loading refuses mismatching weights (StrictLoadHook, in every
# shipped config's default_hooks; docs/reliability.md): set
# allow_partial_load = True, or pass --allow-partial-load, for a new head
allow_partial_load = False
