# MoE-MDF (S5), P = 256, on ViT-L/16 (configs/_base_/models/upernet_vit-l16.py,
# gradient checkpointing). 435.0M parameters.
_base_ = [
    '../_base_/models/upernet_vit-l16.py',
    '../_base_/datasets/rsseg4.py',
    '../_base_/schedules/schedule_mdf-seg_adamw_100e.py',
    '../_base_/default_runtime.py',
]
s4p_checkpoint = 'pretrain/s4p_vit-l_rs4p-1m.pth'
model = dict(
    type='MultiDatasetEncoderDecoder',
    backbone=dict(
        type='MoEViT',
        dataset_names=_base_.rsseg4_dataset_names,
        expert_channels=256,
        init_cfg=dict(type='Pretrained', checkpoint=s4p_checkpoint)),
    decode_head=None,
    decode_heads={
        name: dict(_base_.model.decode_head, num_classes=num_classes)
        for name, num_classes in zip(_base_.rsseg4_dataset_names,
                                     _base_.rsseg4_num_classes)
    })
# layer-wise lr decay over the depth of the base model's ViT
optim_wrapper = dict(
    paramwise_cfg=dict(num_layers=_base_.model.backbone.num_layers))
