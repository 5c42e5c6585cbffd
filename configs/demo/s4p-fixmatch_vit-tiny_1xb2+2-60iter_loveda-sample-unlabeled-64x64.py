# S4P demo: FixMatch with the tiny ViT + UperNet of the supervised demo, 60
# iterations on CPU. Labeled: the three real LoveDA crops in tests/data/loveda
# (CC BY-NC-SA 4.0, academic use only); unlabeled: the RSSCN7 scenes and demo
# images in tests/data/unlabeled (read recursively). Every batch holds 2
# labeled + 2 unlabeled images; evaluates (mIoU) and checkpoints at the end.
#   python tools/train.py configs/demo/s4p-fixmatch_vit-tiny_1xb2+2-60iter_loveda-sample-unlabeled-64x64.py
_base_ = [
    './upernet_vit-tiny_1xb4-60iter_loveda-sample-64x64.py',
    '../_base_/datasets/fixmatch_views.py'
]

segmentor = _base_.model
model = dict(
    _delete_=True,
    type='FixMatchSegmentor',
    segmentor=segmentor,
    data_preprocessor=dict(
        type='mmdet.MultiBranchDataPreprocessor',
        data_preprocessor=segmentor.data_preprocessor),
    # tau = 0.95 in the paper and the full configs; a tiny model trained for
    # 60 iterations stays below 0.5 confidence everywhere, so the demo uses
    # 0.3 to let pseudo-labels through (unsup_conf_ratio in the log).
    # Off by default, see docs/s4p.md: class_weight_power=0.5,
    # class_stats_momentum (class-frequency weights of the unsupervised loss)
    semi_train_cfg=dict(
        teacher='self', conf_thr=0.3, sup_weight=1.0, unsup_weight=1.0),
    semi_test_cfg=dict(predict_on='student'))

crop_size = (64, 64)
# geometry shared by the weak and strong views (applied before the branch);
# SegDataPreProcessor pads to crop_size with 255 = ignore
geometric_pipeline = [
    dict(type='RandomResize', scale=(128, 128), ratio_range=(0.5, 2.0),
         keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomFlip', prob=0.5, direction='vertical'),
]
labeled_pipeline = [
    dict(type='LoadImageChecked'),
    dict(type='LoadAnnotationsChecked', reduce_zero_label=True,
         num_classes=_base_.num_classes),
    *geometric_pipeline,
    dict(type='mmdet.MultiBranch', branch_field=_base_.branch_field,
         sup=dict(type='PackSegInputs')),
]
unlabeled_pipeline = [
    dict(type='LoadImageChecked'),
    dict(type='LoadIgnoreMask'),
    *geometric_pipeline,
    dict(type='mmdet.MultiBranch', branch_field=_base_.branch_field,
         unsup_teacher=[dict(type='PackSegInputs')],
         unsup_student=_base_.strong_pipeline),
]
train_dataloader = dict(
    _delete_=True,
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='mmdet.MultiSourceSampler', batch_size=4,
                 source_ratio=[1, 1]),
    dataset=dict(
        type='ConcatDataset',
        datasets=[
            dict(type='LoveDADataset',
                 data_root='tests/data/loveda',
                 data_prefix=dict(img_path='img_dir', seg_map_path='ann_dir'),
                 pipeline=labeled_pipeline),
            dict(type='UnlabeledImageDataset',
                 data_root='tests/data/unlabeled',
                 ann_file='',  # '' = every image under data_root
                 pipeline=unlabeled_pipeline),
        ],
        # the unlabeled set has no classes / palette of its own
        ignore_keys=['classes', 'palette', 'label_map', 'reduce_zero_label']))

custom_hooks = [
    # panels: one row per sample (num_samples), tiles of tile_size pixels
    dict(type='FixMatchVisualizationHook', interval=30, num_samples=2),
]
