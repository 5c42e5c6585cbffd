# MDF (S5): one plain ViT-B + Feature2Pyramid shared by Vaihingen, Potsdam,
# LoveDA and OpenEarthMap, one UPerHead (256 channels) per dataset; every
# batch holds 12 crops of each dataset per GPU (8 GPUs), in one backbone
# pass. 132.1M parameters. Backbone initialised from the S4P checkpoint.
_base_ = [
    '../_base_/models/upernet_vit-b16.py',
    '../_base_/datasets/rsseg4.py',
    '../_base_/schedules/schedule_mdf-seg_adamw_100e.py',
    '../_base_/default_runtime.py',
]
# the backbone of the S4P (FixMatch) checkpoint of the same ViT, keys
# without prefix (mmseg's VisionTransformer ignores init_cfg.prefix):
#   python tools/model_converters/extract_backbone.py \
#       work_dirs/<s4p run>/iter_120000.pth pretrain/s4p_vit-b_rs4p-1m.pth \
#       --strip-prefix
s4p_checkpoint = 'pretrain/s4p_vit-b_rs4p-1m.pth'
model = dict(
    type='MultiDatasetEncoderDecoder',
    backbone=dict(
        init_cfg=dict(type='Pretrained', checkpoint=s4p_checkpoint)),
    decode_head=None,
    # the base model's UPerHead, one per dataset with its class count
    decode_heads={
        name: dict(_base_.model.decode_head, num_classes=num_classes)
        for name, num_classes in zip(_base_.rsseg4_dataset_names,
                                     _base_.rsseg4_num_classes)
    })
