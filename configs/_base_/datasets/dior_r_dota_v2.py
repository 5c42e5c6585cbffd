# DIOR-R + DOTA-v2 for multi-dataset detection (MoE-MDF): every training
# batch holds 2 images of each dataset per GPU, mixed in one backbone pass;
# the fixed composition comes from mmdet's MultiSourceSampler over a
# ConcatDataset (an infinite sampler, so training counts iterations).
# Validation and test run on both, with mmrotate's DOTAMetric for each:
# `dior/mAP`, `dota/mAP`, ...
_base_ = ['./dior_r.py', './dota_v2.py']
dior_dota_dataset_names = [_base_.dior_name, _base_.dota_name]
dior_dota_num_classes = [20, 18]  # DIOR-R, DOTA-v2
imgs_per_dataset_per_gpu = 2
train_dataloader = dict(
    batch_size=imgs_per_dataset_per_gpu * 2,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(
        type='mmdet.MultiSourceSampler',
        batch_size=imgs_per_dataset_per_gpu * 2,
        source_ratio=[1, 1]),
    batch_sampler=None,
    dataset=dict(
        type='mmdet.ConcatDataset',
        datasets=[_base_.dior_train_dataset, _base_.dota_train_dataset]))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='mmdet.ConcatDataset',
        datasets=[_base_.dior_test_dataset, _base_.dota_test_dataset]))
test_dataloader = val_dataloader
val_evaluator = dict(
    type='MultiDatasetDOTAMetric',
    dataset_names=dior_dota_dataset_names,
    metric=dict(type='DOTAMetric', metric='mAP'))
test_evaluator = val_evaluator
