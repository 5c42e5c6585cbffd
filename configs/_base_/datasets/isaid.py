# iSAID as semantic segmentation (16 classes incl. background) through mmseg's
# iSAIDDataset, cut into 512x512 patches by s5_mm's converter (mmseg's
# renumbers the labels under Pillow 13; see docs/datasets.md):
#   python tools/dataset_converters/isaid.py /path/to/iSAID -o data/iSAID \
#       --patch_width 512 --patch_height 512 --overlap_area 128
# Only `isaid_`-prefixed
# variables are defined, so this file combines with other dataset files.
# Training as S5's S4P labeled branch: random rescale 0.5-2.0, 512 crop
# (padded with ignore by the data preprocessor), horizontal + vertical flip.
isaid_data_root = 'data/iSAID'
isaid_num_classes = 16  # background + 15 object classes
isaid_crop_size = (512, 512)
isaid_geometric_pipeline = [
    dict(type='RandomResize', scale=isaid_crop_size, ratio_range=(0.5, 2.0),
         keep_ratio=True),
    dict(type='RandomCrop', crop_size=isaid_crop_size),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomFlip', prob=0.5, direction='vertical'),
]
isaid_train_pipeline = [
    dict(type='LoadImageChecked'),
    dict(type='LoadAnnotationsChecked', num_classes=isaid_num_classes),
    *isaid_geometric_pipeline,
    dict(type='PackSegInputs'),
]
isaid_test_pipeline = [
    dict(type='LoadImageChecked'),
    dict(type='Resize', scale=isaid_crop_size, keep_ratio=True),
    dict(type='LoadAnnotationsChecked', num_classes=isaid_num_classes),
    dict(type='PackSegInputs'),
]
isaid_train_dataset = dict(
    type='iSAIDDataset',
    data_root=isaid_data_root,
    data_prefix=dict(img_path='img_dir/train', seg_map_path='ann_dir/train'),
    pipeline=isaid_train_pipeline)
isaid_test_dataset = dict(
    type='iSAIDDataset',
    data_root=isaid_data_root,
    data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val'),
    pipeline=isaid_test_pipeline)
isaid_metric = dict(type='IoUMetric', iou_metrics=['mIoU'])
