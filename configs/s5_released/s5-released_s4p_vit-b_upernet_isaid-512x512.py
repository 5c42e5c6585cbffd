# The S5 authors' released S4P model, ViT-B + UperNet (`vit_b_s4p_upernet.pth`
# of their S4_Pretrain/s4_pretrain.py), rebuilt exactly: their ViT (patch
# bias, LayerNorm eps 1e-5, cls token dropped, no final norm, out indices
# 3/5/7/11), their neck (Feature2PyramidLN: channel LayerNorm, eps 1e-6),
# mmseg's UPerHead (256 channels, align_corners=False inside) with their
# classifier and their final logit resize (bilinear, align_corners=True).
# iSAID, 16 classes (background + 15). Convert, then test:
#   python tools/model_converters/s5_to_s5mm.py vit_b_s4p_upernet.pth \
#       checkpoints/s5-released_s4p_vit-b.pth --check-config THIS_CONFIG
#   python tools/test.py THIS_CONFIG checkpoints/s5-released_s4p_vit-b.pth
_base_ = [
    '../_base_/models/upernet_vit-b16.py',
    '../_base_/datasets/isaid.py',
    '../_base_/datasets/sdf_loaders.py',
    '../_base_/default_runtime.py',
]
model = dict(
    neck=dict(_delete_=True, type='Feature2PyramidLN', embed_dim=768),
    decode_head=dict(
        type='FinalResizeUPerHead',
        final_align_corners=True,
        num_classes=_base_.isaid_num_classes))
train_dataloader = None
val_dataloader = dict(dataset={{_base_.isaid_test_dataset}})
test_dataloader = val_dataloader
val_evaluator = {{_base_.isaid_metric}}
test_evaluator = val_evaluator
# stop before the first test iteration if the head's num_classes differs
# from the dataset's (docs/datasets.md)
default_hooks = dict(dataset_check=dict(type='DatasetClassCheckHook'))
