# S4P (S5, arXiv 2508.12409): FixMatch pre-training of ViT-B + UperNet on
# labeled iSAID (16 classes) + the RS4P unlabeled split, 8 GPUs x (12 labeled
# + 12 unlabeled), 120k iterations, AdamW lr 5e-5 wd 0.01, cosine to 0, AMP,
# tau = 0.95, loss (L_sup + L_unsup) / 2, the network itself as teacher.
# Backbone from MAE: convert the official MAE checkpoint with mmseg's
#   python tools/model_converters/vit2mmseg.py mae_pretrain_vit_base.pth \
#       pretrain/mae_pretrain_vit_base_mmseg.pth
# Afterwards, for fine-tuning:
#   python tools/model_converters/extract_backbone.py \
#       work_dirs/<this config>/iter_120000.pth pretrain/s4p_vit-b_rs4p-1m.pth
_base_ = [
    '../_base_/models/upernet_vit-b16.py',
    '../_base_/datasets/semi_isaid_rs4p-512x512.py',
    '../_base_/schedules/schedule_s4p_adamw_120k.py',
    '../_base_/s4p_runtime.py',
]
mae_checkpoint = 'pretrain/mae_pretrain_vit_base_mmseg.pth'
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
    # UniMatch / UniMatch V2 options (off here, as in the paper):
    #   teacher='ema' + custom_hooks EMATeacherHook(max_ratio=0.996);
    #   comp_drop=True (needs an 'unsup_student2' branch); fp_weight=0.5
    # against majority-class confirmation bias (off here; docs/s4p.md):
    #   class_weight_power=0.5 (class-frequency weights of L_unsup),
    #   class_stats_momentum=0.999
    semi_train_cfg=dict(
        teacher='self', conf_thr=0.95, sup_weight=1.0, unsup_weight=1.0,
        cutmix_prob=0.5),
    semi_test_cfg=dict(predict_on='student'))

