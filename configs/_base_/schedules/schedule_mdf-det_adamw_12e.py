# The detection fine-tuning schedule (schedule_det_adamw_12e.py) for the
# multi-dataset configs (datasets/dior_r_dota_v2.py), counted in iterations
# (the sampler is infinite): one "epoch" = one pass over DIOR-R trainval
# (11,725 images) at 2 images x 8 GPUs; lr steps after epochs 8 and 11,
# validation and a checkpoint every epoch.
_base_ = './schedule_det_adamw_12e.py'
iters_per_epoch = 11725 // (2 * 8)
train_cfg = dict(
    _delete_=True,
    type='IterBasedTrainLoop',
    max_iters=12 * iters_per_epoch,
    val_interval=iters_per_epoch)
param_scheduler = [
    dict(type='LinearLR', start_factor=1.0 / 3, by_epoch=False, begin=0,
         end=500),
    dict(type='MultiStepLR', begin=0, end=12 * iters_per_epoch,
         by_epoch=False, milestones=[8 * iters_per_epoch,
                                     11 * iters_per_epoch], gamma=0.1),
]
default_hooks = dict(
    checkpoint=dict(by_epoch=False, interval=iters_per_epoch))
# lr above is for 8 GPUs x (2 + 2) images
auto_scale_lr = dict(base_batch_size=32)
