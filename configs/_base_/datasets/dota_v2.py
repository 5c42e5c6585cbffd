# DOTA-v2.0 (18 classes), split into 1024x1024 patches (gap 200) with
# mmrotate's tool (tools/data/dota/split/img_split.py, config
# ss_trainval.json / ss_test.json) into data_root:
#   train/{images,annfiles}, val/{images,annfiles}, test/images.
# Read by StrictDOTAv2Dataset = mmrotate's DOTAv2Dataset that stops with the
# file and line of a malformed label line instead of crashing or skipping.
# Only prefixed variables, so it combines with dior_r.py (see there).
# For test-server numbers train on train+val and submit test/ predictions
# with mmrotate's DOTAMetric(format_only=True, merge_patches=True).
dota_name = 'dota'
dota_data_root = 'data/split_ss_dota2/'
dota_scale = (1024, 1024)
dota_train_pipeline = [
    dict(type='LoadImageChecked'),
    dict(type='mmdet.LoadAnnotations', with_bbox=True, box_type='qbox'),
    dict(type='ConvertBoxType', box_type_mapping=dict(gt_bboxes='rbox')),
    dict(type='mmdet.Resize', scale=dota_scale, keep_ratio=True),
    dict(type='mmdet.RandomFlip', prob=0.5,
         direction=['horizontal', 'vertical']),
    dict(type='mmdet.PackDetInputs'),
    dict(type='mmdet.SetDatasetName', name=dota_name),
]
dota_test_pipeline = [
    dict(type='LoadImageChecked'),
    dict(type='mmdet.Resize', scale=dota_scale, keep_ratio=True),
    dict(type='mmdet.LoadAnnotations', with_bbox=True, box_type='qbox'),
    dict(type='ConvertBoxType', box_type_mapping=dict(gt_bboxes='rbox')),
    dict(type='mmdet.PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                    'scale_factor')),
    dict(type='mmdet.SetDatasetName', name=dota_name),
]
dota_train_dataset = dict(
    type='StrictDOTAv2Dataset',
    data_root=dota_data_root,
    ann_file='train/annfiles/',
    data_prefix=dict(img_path='train/images/'),
    filter_cfg=dict(filter_empty_gt=True),
    pipeline=dota_train_pipeline)
dota_test_dataset = dict(
    type='StrictDOTAv2Dataset',
    data_root=dota_data_root,
    ann_file='val/annfiles/',
    data_prefix=dict(img_path='val/images/'),
    test_mode=True,
    pipeline=dota_test_pipeline)
