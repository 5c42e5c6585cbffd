# The three real LoveDA crops bundled in tests/data/loveda (CC BY-NC-SA 4.0,
# academic use only), read by mmseg's LoveDADataset. For demos and tests.
dataset_type = 'LoveDADataset'
data_root = 'tests/data/loveda'
crop_size = (64, 64)
num_classes = 7  # LoveDA's classes
train_pipeline = [
    dict(type='LoadImageChecked'),
    dict(type='LoadAnnotationsChecked', reduce_zero_label=True,
         num_classes=num_classes),
    dict(type='RandomResize', scale=(128, 128), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageChecked'),
    dict(type='Resize', scale=(128, 128), keep_ratio=True),
    dict(type='LoadAnnotationsChecked', reduce_zero_label=True,
         num_classes=num_classes),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='img_dir', seg_map_path='ann_dir'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='img_dir', seg_map_path='ann_dir'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
