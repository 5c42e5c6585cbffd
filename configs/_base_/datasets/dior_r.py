# DIOR-R (20 classes, 800x800 images) through StrictDIORDataset (mmrotate's
# DIORDataset that checks every XML object first, docs/datasets.md).
# Layout under data_root (as distributed): JPEGImages-trainval/,
# JPEGImages-test/, Annotations/Oriented Bounding Boxes/*.xml,
# ImageSets/Main/{train,val,test}.txt.
# Only prefixed variables are defined here, so this file can be combined
# with dota_v2.py in a multi-dataset config; the configs in configs/mdf_det/
# build their dataloaders from them. The last transform tags every sample
# with the dataset name the multi-dataset detector routes by.
dior_name = 'dior'
dior_data_root = 'data/DIOR/'
dior_scale = (1024, 1024)
dior_train_pipeline = [
    dict(type='LoadImageChecked'),
    dict(type='mmdet.LoadAnnotations', with_bbox=True, box_type='qbox'),
    dict(type='ConvertBoxType', box_type_mapping=dict(gt_bboxes='rbox')),
    dict(type='mmdet.Resize', scale=dior_scale, keep_ratio=True),
    dict(type='mmdet.RandomFlip', prob=0.5,
         direction=['horizontal', 'vertical']),
    dict(type='mmdet.PackDetInputs'),
    dict(type='mmdet.SetDatasetName', name=dior_name),
]
dior_test_pipeline = [
    dict(type='LoadImageChecked'),
    dict(type='mmdet.Resize', scale=dior_scale, keep_ratio=True),
    # annotations are loaded after Resize so the boxes stay in the
    # original frame, where the predictions are compared with them
    dict(type='mmdet.LoadAnnotations', with_bbox=True, box_type='qbox'),
    dict(type='ConvertBoxType', box_type_mapping=dict(gt_bboxes='rbox')),
    dict(type='mmdet.PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                    'scale_factor')),
    dict(type='mmdet.SetDatasetName', name=dior_name),
]
dior_train_dataset = dict(
    type='ConcatDataset',
    datasets=[
        dict(type='StrictDIORDataset',
             data_root=dior_data_root,
             ann_file=f'ImageSets/Main/{split}.txt',
             data_prefix=dict(img_path='JPEGImages-trainval'),
             filter_cfg=dict(filter_empty_gt=True),
             pipeline=dior_train_pipeline) for split in ('train', 'val')
    ])
dior_test_dataset = dict(
    type='StrictDIORDataset',
    data_root=dior_data_root,
    ann_file='ImageSets/Main/test.txt',
    data_prefix=dict(img_path='JPEGImages-test'),
    test_mode=True,
    pipeline=dior_test_pipeline)
