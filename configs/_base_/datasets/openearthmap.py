# OpenEarthMap (8 classes) through s5_mm's OpenEarthMapDataset, converted by
# tools/dataset_converters/openearthmap.py (label 0 = unknown, ignored).
# Evaluated resized to 512, mIoU.
# Only `openearthmap_`-prefixed variables are defined, so this file
# combines with the other dataset files in a multi-dataset config
# (configs/mdf_seg/). The last transform tags every sample with the dataset
# name models route by.
# Training as in S5: 512 crops, flips and 90-degree rotations.
openearthmap_name = 'openearthmap'
openearthmap_num_classes = 8  # = len(classes) of the dataset
openearthmap_data_root = 'data/openearthmap/'
openearthmap_train_pipeline = [
    dict(type='LoadImageChecked'),
    dict(type='LoadAnnotationsChecked', reduce_zero_label=True,
         num_classes=openearthmap_num_classes),
    dict(type='RandomCrop', crop_size=(512, 512), cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    # rot90 by k in 0..3 followed by a flip, with probability 0.5
    dict(type='RandomRotFlip', rotate_prob=0.0, flip_prob=0.5),
    dict(type='PackSegInputs'),
    dict(type='SetDatasetName', name=openearthmap_name),
]
openearthmap_test_pipeline = [
    dict(type='LoadImageChecked'),
    dict(type='Resize', scale=(512, 512), keep_ratio=True),
    # annotations are loaded after any resize: predictions are compared at
    # the original resolution
    dict(type='LoadAnnotationsChecked', reduce_zero_label=True,
         num_classes=openearthmap_num_classes),
    dict(type='PackSegInputs'),
    dict(type='SetDatasetName', name=openearthmap_name),
]
openearthmap_train_dataset = dict(
    type='OpenEarthMapDataset',
    data_root=openearthmap_data_root,
    data_prefix=dict(img_path='img_dir/train', seg_map_path='ann_dir/train'),
    pipeline=openearthmap_train_pipeline)
openearthmap_test_dataset = dict(
    type='OpenEarthMapDataset',
    data_root=openearthmap_data_root,
    data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val'),
    pipeline=openearthmap_test_pipeline)
openearthmap_metric = dict(type='IoUMetric', iou_metrics=['mIoU'])
openearthmap_metric_key = 'mIoU'  # the metric entering the multi-dataset mean
