# The segmentation fine-tuning schedule (schedule_seg_adamw_100e.py) for the
# four-dataset MDF / MoE-MDF configs (datasets/rsseg4.py): one "epoch" = one
# pass over the largest training set (Potsdam, 3456 crops) at 12 crops x 8
# GPUs; the smaller datasets cycle more often. Best checkpoint by the mean
# of the four datasets' metrics.
_base_ = './schedule_seg_adamw_100e.py'
iters_per_epoch = 3456 // (12 * 8)
train_cfg = dict(
    type='IterBasedTrainLoop',
    max_iters=100 * iters_per_epoch,
    val_interval=10 * iters_per_epoch)
param_scheduler = [
    dict(type='CosineAnnealingLR', eta_min=0.0, begin=0,
         end=100 * iters_per_epoch, by_epoch=False)
]
default_hooks = dict(
    checkpoint=dict(
        interval=10 * iters_per_epoch, save_best='mean', rule='greater'))
