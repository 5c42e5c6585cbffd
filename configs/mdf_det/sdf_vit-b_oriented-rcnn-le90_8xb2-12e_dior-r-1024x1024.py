# Single-dataset fine-tuning (SDF) baseline: Oriented R-CNN (le90) on a
# ViT-B on DIOR-R, 1024x1024 input, 8 GPUs x 2 images, 12 epochs.
# 111.2M parameters.
_base_ = [
    '../_base_/models/oriented-rcnn-le90_vit-b_fpn.py',
    '../_base_/datasets/dior_r.py',
    '../_base_/datasets/sdf_det_loaders.py',
    '../_base_/schedules/schedule_det_adamw_12e.py',
    '../_base_/det_runtime.py',
]
model = dict(dataset_names=[_base_.dior_name], num_classes=[20])
train_dataloader = dict(dataset={{_base_.dior_train_dataset}})
val_dataloader = dict(dataset={{_base_.dior_test_dataset}})
test_dataloader = val_dataloader
val_evaluator = dict(type='DOTAMetric', metric='mAP', prefix='dior')
test_evaluator = val_evaluator
# MAE (or S4P-pretrained) ViT-B weights, e.g. converted with
# tools/model_converters; pos_embed is resized from the checkpoint's grid.
load_from = None
