# MDF (S5): one plain ViT-B + Feature2Pyramid shared by Vaihingen, Potsdam,
# LoveDA and OpenEarthMap, one UPerHead (256 channels) per dataset; every
# batch holds 12 crops of each dataset per GPU (8 GPUs), in one backbone
# pass. 132.1M parameters. Backbone initialised from the S4P checkpoint.
_base_ = [
    '../_base_/models/upernet_vit-b16.py',
    '../_base_/datasets/rsseg4.py',
    '../_base_/schedules/schedule_seg_adamw_100e.py',
    '../_base_/default_runtime.py',
]
# the backbone of the S4P (FixMatch) checkpoint of the same ViT, keys
# without prefix (mmseg's VisionTransformer ignores init_cfg.prefix):
#   python tools/model_converters/extract_backbone.py \
#       work_dirs/<s4p run>/iter_120000.pth pretrain/s4p_vit-b_rs4p-1m.pth \
#       --strip-prefix
s4p_checkpoint = 'pretrain/s4p_vit-b_rs4p-1m.pth'
# the UPerHead of configs/_base_/models/upernet_vit-b16.py, one per dataset
uper_head = dict(
    type='UPerHead',
    in_channels=[768, 768, 768, 768],
    in_index=[0, 1, 2, 3],
    pool_scales=(1, 2, 3, 6),
    channels=256,
    dropout_ratio=0.1,
    norm_cfg=dict(type='SyncBN', requires_grad=True),
    align_corners=False,
    loss_decode=dict(
        type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0))
model = dict(
    type='MultiDatasetEncoderDecoder',
    backbone=dict(
        init_cfg=dict(type='Pretrained', checkpoint=s4p_checkpoint)),
    decode_head=None,
    decode_heads=dict(
        vaihingen=dict(uper_head, num_classes=6),
        potsdam=dict(uper_head, num_classes=6),
        loveda=dict(uper_head, num_classes=7),
        openearthmap=dict(uper_head, num_classes=8)))

# One "epoch" = one pass over the largest training set (Potsdam, 3456
# crops) at 12 crops x 8 GPUs; the smaller datasets cycle more often.
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
