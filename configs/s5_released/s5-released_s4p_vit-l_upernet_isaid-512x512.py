# The S5 authors' released S4P model, ViT-L + UperNet
# (`vit_l_s4p_upernet.pth`),
# rebuilt exactly (see the ViT-B file; ViT-L: 1024 dims, 24 layers, out
# indices 7/11/15/23). Convert with
#   python tools/model_converters/s5_to_s5mm.py vit_l_s4p_upernet.pth \
#       checkpoints/s5-released_s4p_vit-l.pth --check-config THIS_CONFIG
_base_ = [
    '../_base_/models/upernet_vit-l16.py',
    '../_base_/datasets/isaid.py',
    '../_base_/datasets/sdf_loaders.py',
    '../_base_/default_runtime.py',
]
model = dict(
    neck=dict(_delete_=True, type='Feature2PyramidLN', embed_dim=1024),
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
