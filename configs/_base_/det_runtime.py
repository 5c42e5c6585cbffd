# Runtime for the rotated-detection configs: mmrotate scope and visualizer
# on top of the s5_mm default runtime (which imports s5_mm).
_base_ = ['./default_runtime.py']
default_scope = 'mmrotate'
visualizer = dict(
    type='RotLocalVisualizer',
    vis_backends=[dict(type='LocalVisBackend')],
    name='visualizer',
    _delete_=True)
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=True)
tta_model = None
