# The four segmentation datasets of S5's multi-dataset fine-tuning:
# Vaihingen, Potsdam, LoveDA, OpenEarthMap. Every training batch holds the
# same number of crops of each dataset (mmdet's MultiSourceSampler over a
# ConcatDataset; the sampler is infinite, so training counts iterations).
# Validation and test run dataset by dataset (MultiDatasetValLoop), each
# with its own pipeline and metric; results are `vaihingen/mIoU`,
# `potsdam/mFscore`, `loveda/mIoU`, `openearthmap/mIoU` and their `mean`.
_base_ = ['./vaihingen.py', './potsdam.py', './loveda.py', './openearthmap.py']
rsseg4_dataset_names = [
    _base_.vaihingen_name, _base_.potsdam_name, _base_.loveda_name,
    _base_.openearthmap_name
]
rsseg4_num_classes = [
    _base_.vaihingen_num_classes, _base_.potsdam_num_classes,
    _base_.loveda_num_classes, _base_.openearthmap_num_classes
]
# every dataset needs >= 1 crop per batch: mmdet's MultiSourceSampler
# loops forever on a source with 0 crops per batch (ratio 0 or too small a
# batch_size)
imgs_per_dataset_per_gpu = 12
train_dataloader = dict(
    batch_size=imgs_per_dataset_per_gpu * 4,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(
        type='mmdet.MultiSourceSampler',
        batch_size=imgs_per_dataset_per_gpu * 4,
        source_ratio=[1, 1, 1, 1]),
    batch_sampler=None,
    # mmdet's ConcatDataset accepts datasets with different classes (its
    # metainfo is then the list of theirs, saved in checkpoints)
    dataset=dict(
        type='mmdet.ConcatDataset',
        datasets=[
            {{_base_.vaihingen_train_dataset}},
            {{_base_.potsdam_train_dataset}},
            {{_base_.loveda_train_dataset}},
            {{_base_.openearthmap_train_dataset}},
        ]))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='mmdet.ConcatDataset',
        datasets=[
            {{_base_.vaihingen_test_dataset}},
            {{_base_.potsdam_test_dataset}},
            {{_base_.loveda_test_dataset}},
            {{_base_.openearthmap_test_dataset}},
        ]))
test_dataloader = val_dataloader
val_evaluator = dict(
    type='MultiDatasetEvaluator',
    metrics=dict(
        vaihingen={{_base_.vaihingen_metric}},
        potsdam={{_base_.potsdam_metric}},
        loveda={{_base_.loveda_metric}},
        openearthmap={{_base_.openearthmap_metric}}),
    mean_of=dict(
        vaihingen={{_base_.vaihingen_metric_key}},
        potsdam={{_base_.potsdam_metric_key}},
        loveda={{_base_.loveda_metric_key}},
        openearthmap={{_base_.openearthmap_metric_key}}))
test_evaluator = val_evaluator
val_cfg = dict(type='MultiDatasetValLoop')
test_cfg = dict(type='MultiDatasetTestLoop')
