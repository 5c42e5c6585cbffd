# S4P data (S5): every batch holds 12 labeled iSAID crops + 12 unlabeled RS4P
# images per GPU (mmdet's MultiSourceSampler over a ConcatDataset, rank-aware).
# Both unlabeled views share the geometry (rescale 0.5-2.0, 512 crop padded
# with ignore, h+v flips); the weak view is that, the strong view adds
# fixmatch_views.py's photometric augmentation. CutMix happens in the model.
_base_ = ['./isaid.py', './rs4p_unlabeled.py', './fixmatch_views.py']
labeled_pipeline = [
    dict(type='LoadImageChecked'),
    dict(type='LoadAnnotationsChecked',
         num_classes=_base_.isaid_num_classes),
    *_base_.isaid_geometric_pipeline,
    dict(type='ContiguousArrays'),  # one fast copy of the flipped views
    dict(type='SharedMultiBranch', branch_field=_base_.branch_field,
         sup=dict(type='FastPackSegInputs')),
]
unlabeled_pipeline = [
    dict(type='LoadImageChecked'),
    *_base_.isaid_geometric_pipeline,
    dict(type='ContiguousArrays'),  # one fast copy of the flipped views
    dict(type='LoadIgnoreMask'),  # after the geometry, which never pads
    dict(type='SharedMultiBranch', branch_field=_base_.branch_field,
         unsup_teacher=[dict(type='FastPackSegInputs')],
         unsup_student=_base_.strong_pipeline),
]
labeled_batch, unlabeled_batch = 12, 12
train_dataloader = dict(
    batch_size=labeled_batch + unlabeled_batch,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='mmdet.MultiSourceSampler',
                 batch_size=labeled_batch + unlabeled_batch,
                 source_ratio=[labeled_batch, unlabeled_batch]),
    dataset=dict(
        type='ConcatDataset',
        datasets=[
            dict(_base_.isaid_train_dataset, pipeline=labeled_pipeline),
            dict(_base_.rs4p_unlabeled_dataset, pipeline=unlabeled_pipeline),
        ],
        # the unlabeled set has no classes / palette of its own
        ignore_keys=['classes', 'palette', 'label_map', 'reduce_zero_label']))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=_base_.isaid_test_dataset)
test_dataloader = val_dataloader
val_evaluator = _base_.isaid_metric
test_evaluator = val_evaluator
