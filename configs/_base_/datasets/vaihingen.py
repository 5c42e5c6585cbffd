# ISPRS Vaihingen (6 classes) through mmseg's ISPRSDataset, in the layout of
# mmseg's tools/dataset_converters/vaihingen.py (512 crops; label 0 = ignored
# boundary, reduce_zero_label). Evaluated on the whole val crops, mIoU.
# Only `vaihingen_`-prefixed variables are defined, so this file
# combines with the other dataset files in a multi-dataset config
# (configs/mdf_seg/). The last transform tags every sample with the dataset
# name models route by.
# Training as in S5: 512 crops, flips and 90-degree rotations.
vaihingen_name = 'vaihingen'
vaihingen_num_classes = 6  # = len(classes) of the dataset
vaihingen_data_root = 'data/vaihingen/'
vaihingen_train_pipeline = [
    dict(type='LoadImageChecked'),
    dict(type='LoadAnnotationsChecked', reduce_zero_label=True,
         num_classes=vaihingen_num_classes),
    dict(type='RandomCrop', crop_size=(512, 512), cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    # rot90 by k in 0..3 followed by a flip, with probability 0.5
    dict(type='RandomRotFlip', rotate_prob=0.0, flip_prob=0.5),
    dict(type='PackSegInputs'),
    dict(type='SetDatasetName', name=vaihingen_name),
]
vaihingen_test_pipeline = [
    dict(type='LoadImageChecked'),
    # annotations are loaded after any resize: predictions are compared at
    # the original resolution
    dict(type='LoadAnnotationsChecked', reduce_zero_label=True,
         num_classes=vaihingen_num_classes),
    dict(type='PackSegInputs'),
    dict(type='SetDatasetName', name=vaihingen_name),
]
vaihingen_train_dataset = dict(
    type='ISPRSDataset',
    data_root=vaihingen_data_root,
    data_prefix=dict(img_path='img_dir/train', seg_map_path='ann_dir/train'),
    pipeline=vaihingen_train_pipeline)
vaihingen_test_dataset = dict(
    type='ISPRSDataset',
    data_root=vaihingen_data_root,
    data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val'),
    pipeline=vaihingen_test_pipeline)
vaihingen_metric = dict(type='IoUMetric', iou_metrics=['mIoU'])
vaihingen_metric_key = 'mIoU'  # the metric entering the multi-dataset mean
