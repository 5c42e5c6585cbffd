# S4P data (S5): every batch holds 12 labeled iSAID crops + 12 unlabeled RS4P
# images per GPU (mmdet's MultiSourceSampler over a ConcatDataset, rank-aware).
# Both unlabeled views share the geometry (rescale 0.5-2.0, 512 crop padded
# with ignore, h+v flips); the weak view is that, the strong view adds colour
# jitter (0.5, 0.5, 0.5, 0.25) p=0.8, grayscale p=0.2, Gaussian blur p=0.5.
# CutMix happens in the model (FixMatchSegmentor).
_base_ = ['./isaid.py', './rs4p_unlabeled.py']
branch_field = ['sup', 'unsup_teacher', 'unsup_student']
strong_pipeline = [
    dict(type='RandomApply', prob=0.8, transforms=[
        dict(type='mmpretrain.ColorJitter', brightness=0.5, contrast=0.5,
             saturation=0.5, hue=0.25)]),
    # images are BGR: grey = 0.114 B + 0.587 G + 0.299 R
    dict(type='RandomGrayscale', prob=0.2, keep_channels=True,
         channel_weights=(0.114, 0.587, 0.299)),
    # sigma ~ U(0.1, 2.0), as UniMatch
    dict(type='mmpretrain.GaussianBlur', magnitude_range=(0.1, 2.0),
         magnitude_level=10, magnitude_std='inf', prob=0.5),
    dict(type='PackSegInputs'),
]
labeled_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    *_base_.isaid_geometric_pipeline,
    dict(type='mmdet.MultiBranch', branch_field=branch_field,
         sup=dict(type='PackSegInputs')),
]
unlabeled_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadIgnoreMask'),  # marks padding as 255 after the crop
    *_base_.isaid_geometric_pipeline,
    dict(type='mmdet.MultiBranch', branch_field=branch_field,
         unsup_teacher=[dict(type='PackSegInputs')],
         unsup_student=strong_pipeline),
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
