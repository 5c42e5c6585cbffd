# Runtime for the S4P (FixMatch) configs: the s5_mm default runtime plus a
# panel of the views, pseudo-labels and confidences every 2000 iterations
# (FixMatchVisualizationHook) and TensorBoard logs.
_base_ = ['./default_runtime.py']
custom_hooks = [dict(type='FixMatchVisualizationHook', interval=2000)]
vis_backends = [dict(type='LocalVisBackend'),
                dict(type='TensorboardVisBackend')]
visualizer = dict(type='SegLocalVisualizer', vis_backends=vis_backends,
                  name='visualizer')
