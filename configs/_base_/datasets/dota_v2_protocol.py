# The paper's DOTA-v2 protocol (docs/evaluation.md): the paper's numbers
# are the evaluation server's, on whole scenes, while models see the
# 1024 px patches of mmrotate's split tool (dota_v2.py).
# Only `dota_protocol_` / `dota_submission_`-prefixed variables and no
# _base_, so a config includes it next to dota_v2.py (or a config built on
# it) and picks what it needs, e.g. configs/s5_released/test-*.py.
# val: patches scored as before (dota/mAP) and merged back into their
# scenes (class-wise rotated NMS at IoU 0.1), scored against the raw
# labelTxt of the val scenes, header lines and all (dota/mAP_full_scene).
dota_protocol_full_scene_ann_dir = 'data/DOTA-v2/val/labelTxt/'
dota_protocol_metric = dict(
    type='FullSceneDOTAMetric',
    metric='mAP',
    iou_thr=0.1,  # NMS of the merge
    full_scene_ann_dir=dota_protocol_full_scene_ann_dir)
# test: the test patches (split like val, no labels, into
# data/split_ss_dota2/test/images/) merged into scenes and written as the
# server's Task1 submission: <prefix>/Task1_<class>.txt (18 files,
# mmrotate's DOTAv2Dataset class names) and <prefix>/<basename>.zip. The
# folder must not exist yet.
dota_submission_prefix = 'work_dirs/dota2_test_submission/Task1'
dota_submission_metric = dict(
    type='FullSceneDOTAMetric',
    format_only=True,
    merge_patches=True,
    iou_thr=0.1,
    outfile_prefix=dota_submission_prefix)
dota_submission_pipeline = [
    dict(type='LoadImageChecked'),
    dict(type='mmdet.Resize', scale=(1024, 1024), keep_ratio=True),
    dict(type='mmdet.PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                    'scale_factor')),
    dict(type='mmdet.SetDatasetName', name='dota'),
]
dota_submission_dataset = dict(
    type='StrictDOTAv2Dataset',
    data_root='data/split_ss_dota2/',
    ann_file='',  # no labels: every image of test/images/
    data_prefix=dict(img_path='test/images/'),
    test_mode=True,
    pipeline=dota_submission_pipeline)
dota_submission_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dota_submission_dataset)
# s5_mm detectors route by dataset name: the metric is wrapped in
# MultiDatasetDOTAMetric (a plain mmrotate config uses
# dota_submission_metric itself)
dota_submission_evaluator = dict(
    type='MultiDatasetDOTAMetric',
    dataset_names=['dota'],
    dataset_metrics=dict(dota=dota_submission_metric))
