# Demo: a tiny ViT + UperNet trained for 60 iterations on CPU on the three
# bundled real LoveDA crops, evaluated (mIoU) and checkpointed.
#   python tools/train.py configs/demo/upernet_vit-tiny_1xb4-60iter_loveda-sample-64x64.py
_base_ = [
    '../_base_/default_runtime.py', '../_base_/default_hooks.py',
    '../_base_/datasets/loveda_sample.py'
]
norm_cfg = dict(type='BN', requires_grad=True)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=(64, 64))
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='VisionTransformer',
        img_size=(64, 64),
        patch_size=8,
        in_channels=3,
        embed_dims=64,
        num_layers=4,
        num_heads=4,
        mlp_ratio=4,
        qkv_bias=True,
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.0,
        with_cls_token=True,
        final_norm=False),
    neck=dict(type='Feature2Pyramid', embed_dim=64, rescales=[4, 2, 1, 0.5], norm_cfg=norm_cfg),
    decode_head=dict(
        type='UPerHead',
        in_channels=[64, 64, 64, 64],
        in_index=[0, 1, 2, 3],
        pool_scales=(1, 2, 3, 6),
        channels=32,
        dropout_ratio=0.1,
        num_classes=7,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.01))
param_scheduler = [
    dict(type='CosineAnnealingLR', eta_min=0.0, begin=0, end=60, by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=60, val_interval=60)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(by_epoch=False, interval=30, max_keep_ckpts=2))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
