# Single-dataset fine-tuning (SDF) baseline: Oriented R-CNN (le90) on a
# ViT-B on DOTA-v2 (1024 patches of mmrotate's split tool), 8 GPUs x 2
# images, 12 epochs. 111.2M parameters (18 classes).
_base_ = [
    '../_base_/models/oriented-rcnn-le90_vit-b_fpn.py',
    '../_base_/datasets/dota_v2.py',
    '../_base_/datasets/sdf_det_loaders.py',
    '../_base_/schedules/schedule_det_adamw_12e.py',
    '../_base_/det_runtime.py',
]
model = dict(dataset_names=[_base_.dota_name], num_classes=[18])
train_dataloader = dict(dataset={{_base_.dota_train_dataset}})
val_dataloader = dict(dataset={{_base_.dota_test_dataset}})
test_dataloader = val_dataloader
val_evaluator = dict(type='DOTAMetric', metric='mAP', prefix='dota')
test_evaluator = val_evaluator
load_from = None
