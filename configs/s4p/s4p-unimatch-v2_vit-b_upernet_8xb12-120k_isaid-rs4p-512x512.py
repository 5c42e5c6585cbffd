# S4P with the UniMatch / UniMatch V2 options switched on (beyond the paper):
# an EMA teacher (ratio min(1 - 1/(iter+1), 0.996), EMATeacherHook), two
# strong views with complementary channel dropout on the backbone features
# (comp_drop), and UniMatch's feature-perturbation stream on the weak view
# (fp_weight=0.5: L_unsup = 0.5 * L_strong + 0.5 * L_fp). Both the teacher
# and the student are evaluated (mmdet's TeacherStudentValLoop).
_base_ = ['./s4p-fixmatch_vit-b_upernet_8xb12-120k_isaid-rs4p-512x512.py']
model = dict(
    semi_train_cfg=dict(teacher='ema', comp_drop=True, fp_weight=0.5),
    semi_test_cfg=dict(predict_on='teacher'))
branch_field = ['sup', 'unsup_teacher', 'unsup_student', 'unsup_student2']
labeled_pipeline = [
    dict(type='LoadImageChecked'),
    dict(type='LoadAnnotationsChecked', num_classes=_base_.isaid_num_classes),
    *_base_.isaid_geometric_pipeline,
    dict(type='mmdet.MultiBranch', branch_field=branch_field,
         sup=dict(type='PackSegInputs')),
]
unlabeled_pipeline = [
    dict(type='LoadImageChecked'),
    dict(type='LoadIgnoreMask'),
    *_base_.isaid_geometric_pipeline,
    dict(type='mmdet.MultiBranch', branch_field=branch_field,
         unsup_teacher=[dict(type='PackSegInputs')],
         unsup_student=_base_.strong_pipeline,
         unsup_student2=_base_.strong_pipeline),
]
train_dataloader = dict(
    dataset=dict(datasets=[
        dict(_base_.isaid_train_dataset, pipeline=labeled_pipeline),
        dict(_base_.rs4p_unlabeled_dataset, pipeline=unlabeled_pipeline),
    ]))
custom_hooks = [
    dict(type='EMATeacherHook', max_ratio=0.996),
    dict(type='FixMatchVisualizationHook', interval=2000),
]
val_cfg = dict(type='mmdet.TeacherStudentValLoop')
