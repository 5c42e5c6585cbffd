default_scope = 'mmseg'
custom_imports = dict(imports=['s5_mm'], allow_failed_imports=False)
# stops before the first iteration if a head's num_classes differs from its
# dataset's class count (s5_mm/engine/hooks/dataset_class_check_hook.py)
default_hooks = dict(dataset_check=dict(type='DatasetClassCheckHook'))
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
