# S4P with ViT-L/16 (1024 dims, 24 layers, 16 heads, gradient checkpointing;
# configs/_base_/models/upernet_vit-l16.py) from the MAE ViT-L
# checkpoint, converted as in the ViT-B config; otherwise as the ViT-B
# config, whose comments list the FixMatch options.
_base_ = [
    '../_base_/models/upernet_vit-l16.py',
    '../_base_/datasets/semi_isaid_rs4p-512x512.py',
    '../_base_/schedules/schedule_s4p_adamw_120k.py',
    '../_base_/s4p_runtime.py',
]
mae_checkpoint = 'pretrain/mae_pretrain_vit_large_mmseg.pth'
segmentor = _base_.model
segmentor.backbone.init_cfg = dict(
    type='Pretrained', checkpoint=mae_checkpoint)
segmentor.decode_head.num_classes = _base_.isaid_num_classes
model = dict(
    _delete_=True,
    type='FixMatchSegmentor',
    segmentor=segmentor,
    data_preprocessor=dict(
        type='mmdet.MultiBranchDataPreprocessor',
        data_preprocessor=segmentor.data_preprocessor),
    semi_train_cfg=dict(
        teacher='self', conf_thr=0.95, sup_weight=1.0, unsup_weight=1.0,
        cutmix_prob=0.5),
    semi_test_cfg=dict(predict_on='student'))
