# LoveDA (7 classes, 1024x1024) through mmseg's LoveDADataset, in the layout
# of mmseg's tools/dataset_converters/loveda.py (label 0 = no-data, ignored).
# Evaluated resized to 512, mIoU.
# Only `loveda_`-prefixed variables are defined, so this file
# combines with the other dataset files in a multi-dataset config
# (configs/mdf_seg/). The last transform tags every sample with the dataset
# name models route by.
# Training as in S5: 512 crops, flips and 90-degree rotations.
loveda_name = 'loveda'
loveda_num_classes = 7  # = len(classes) of the dataset
loveda_data_root = 'data/loveDA/'
loveda_train_pipeline = [
    dict(type='LoadImageChecked'),
    dict(type='LoadAnnotationsChecked', reduce_zero_label=True,
         num_classes=loveda_num_classes),
    dict(type='RandomCrop', crop_size=(512, 512), cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    # rot90 by k in 0..3 followed by a flip, with probability 0.5
    dict(type='RandomRotFlip', rotate_prob=0.0, flip_prob=0.5),
    dict(type='PackSegInputs'),
    dict(type='SetDatasetName', name=loveda_name),
]
loveda_test_pipeline = [
    dict(type='LoadImageChecked'),
    dict(type='Resize', scale=(512, 512), keep_ratio=True),
    # annotations are loaded after any resize: predictions are compared at
    # the original resolution
    dict(type='LoadAnnotationsChecked', reduce_zero_label=True,
         num_classes=loveda_num_classes),
    dict(type='PackSegInputs'),
    dict(type='SetDatasetName', name=loveda_name),
]
loveda_train_dataset = dict(
    type='LoveDADataset',
    data_root=loveda_data_root,
    data_prefix=dict(img_path='img_dir/train', seg_map_path='ann_dir/train'),
    pipeline=loveda_train_pipeline)
loveda_test_dataset = dict(
    type='LoveDADataset',
    data_root=loveda_data_root,
    data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val'),
    pipeline=loveda_test_pipeline)
loveda_metric = dict(type='IoUMetric', iou_metrics=['mIoU'])
loveda_metric_key = 'mIoU'  # the metric entering the multi-dataset mean
