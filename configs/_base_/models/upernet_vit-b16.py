# UperNet on a plain ViT-B/16 (mmseg VisionTransformer) as in S5: 512x512
# crops, out indices (3, 5, 7, 11), mmseg Feature2Pyramid (rescales 4, 2, 1,
# 0.5) and UPerHead with 256 channels. 103.2M parameters with 6 classes
# (backbone 86.43 + neck 7.08 + head 9.64).
# Like the S5 authors' ViT: bias in the patch embedding, LayerNorm eps 1e-5,
# cls token dropped before the encoder (with_cls_token=False), no final norm.
# MoE-MDF: backbone type='MoEViT', dataset_names=[...], expert_channels=256.
# The authors' neck has a channel LayerNorm: neck type='Feature2PyramidLN'.
norm_cfg = dict(type='SyncBN', requires_grad=True)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=(512, 512))
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='VisionTransformer',
        img_size=(512, 512),
        patch_size=16,
        in_channels=3,
        embed_dims=768,
        num_layers=12,
        num_heads=12,
        mlp_ratio=4,
        qkv_bias=True,
        patch_bias=True,
        out_indices=(3, 5, 7, 11),
        drop_rate=0.0,
        attn_drop_rate=0.0,
        drop_path_rate=0.1,
        with_cls_token=False,
        final_norm=False,
        norm_cfg=dict(type='LN'),
        act_cfg=dict(type='GELU'),
        interpolate_mode='bicubic',
        with_cp=False),
    neck=dict(
        type='Feature2Pyramid',
        embed_dim=768,
        rescales=[4, 2, 1, 0.5],
        norm_cfg=norm_cfg),
    decode_head=dict(
        type='UPerHead',
        in_channels=[768, 768, 768, 768],
        in_index=[0, 1, 2, 3],
        pool_scales=(1, 2, 3, 6),
        channels=256,
        dropout_ratio=0.1,
        num_classes=6,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
