"""s5_mm.datasets.checks.class_counts: heads found in configs and built
models, matched to datasets by name, and every class-count mismatch."""
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS, MODELS
from torch import nn

import s5_mm  # noqa: F401
from s5_mm.datasets.checks.class_counts import (DatasetClasses, HeadClasses,
                                                built_dataset_classes,
                                                class_count_problems,
                                                config_heads, model_heads,
                                                pipeline_num_classes)

LOVEDA = 'tests/data/loveda'


def test_config_heads_by_dataset_name():
    model = dict(
        type='MultiDatasetEncoderDecoder',
        decode_heads=dict(loveda=dict(type='UPerHead', num_classes=7),
                          potsdam=dict(type='UPerHead', num_classes=6)),
        auxiliary_head=[dict(type='FCNHead', num_classes=7)],
        rpn_head=dict(num_classes=1))  # class-agnostic: skipped
    assert config_heads(model, ['loveda', 'potsdam']) == [
        HeadClasses('model.decode_heads.loveda', 7, 'loveda'),
        HeadClasses('model.decode_heads.potsdam', 6, 'potsdam'),
        HeadClasses('model.auxiliary_head[0]', 7, None)]
    # a list num_classes beside dataset_names: one per dataset, the heads
    # below it are not read
    det = dict(dataset_names=['dior', 'dota'], num_classes=[20, 18],
               roi_head=dict(bbox_head=dict(num_classes=99)))
    assert config_heads(det, key='m') == [
        HeadClasses('m.num_classes[0]', 20, 'dior'),
        HeadClasses('m.num_classes[1]', 18, 'dota')]


def test_class_count_problems():
    heads = [HeadClasses('h.a', 3, 'a'), HeadClasses('h.any', 2, None)]
    datasets = [
        DatasetClasses('a', 'w1', ('x', 'y', 'z')),        # h.any: 2 != 3
        DatasetClasses('b', 'w2', ('x', 'y'), 3),           # pipeline: 3 != 2
        DatasetClasses('u', 'w3', None),                    # unlabeled
    ]
    messages = [p.message for p in class_count_problems(heads, datasets)]
    assert messages == [
        "model head h.any has num_classes=2 but dataset 'a' (w1) has 3 "
        "classes ('x', 'y', 'z'): set num_classes=3 for that head in the "
        'model config',
        "dataset 'b' (w2) has 2 classes but its LoadAnnotationsChecked has "
        'num_classes=3: set num_classes=2']
    routed = class_count_problems(heads, datasets[1:2], ['a'])
    assert [p.message for p in routed][1] == (
        "dataset 'b' (w2) has no head: the model has heads for ['a'] (name "
        'it with SetDatasetName)')
    assert all(p.rule == 'num_classes' for p in routed)


def test_pipeline_num_classes_of_configs_and_built_transforms():
    assert pipeline_num_classes([dict(type='LoadImageFromFile'),
                                 dict(type='mmseg.LoadAnnotationsChecked',
                                      num_classes=6)]) == 6
    assert pipeline_num_classes([dict(type='LoadAnnotations')]) is None
    init_default_scope('mmseg')
    from mmseg.registry import TRANSFORMS
    built = TRANSFORMS.build(dict(type='LoadAnnotationsChecked',
                                  num_classes=4))
    assert pipeline_num_classes([built]) == 4


def test_model_heads_of_a_built_model():
    init_default_scope('mmseg')
    head = dict(type='FCNHead', in_channels=4, channels=4, num_convs=1,
                concat_input=False)

    class Model(nn.Module):
        dataset_names = ['loveda', 'potsdam']

        def __init__(self):
            super().__init__()
            self.decode_heads = nn.ModuleDict(dict(
                loveda=MODELS.build(dict(head, num_classes=7)),
                potsdam=MODELS.build(dict(head, num_classes=6))))
            self.auxiliary_head = MODELS.build(dict(head, num_classes=5))

    assert model_heads(Model()) == [
        HeadClasses('decode_heads.loveda', 7, 'loveda'),
        HeadClasses('decode_heads.potsdam', 6, 'potsdam'),
        HeadClasses('auxiliary_head', 5, None)]


def test_built_dataset_classes_walks_wrappers():
    init_default_scope('mmseg')

    def loveda(pipeline):
        return dict(type='LoveDADataset', data_root=LOVEDA,
                    data_prefix=dict(img_path='img_dir',
                                     seg_map_path='ann_dir'),
                    pipeline=pipeline)

    dataset = DATASETS.build(dict(type='ConcatDataset', datasets=[
        loveda([dict(type='LoadAnnotationsChecked', num_classes=7),
                dict(type='SetDatasetName', name='loveda')]),
        dict(type='RepeatDataset', times=2, dataset=loveda([]))]))
    leaves = built_dataset_classes(dataset, 'train')
    assert [(d.name, d.pipeline_num_classes) for d in leaves] == [
        ('loveda', 7), (None, None)]
    assert [len(d.classes) for d in leaves] == [7, 7]
    assert leaves[0].where == (f"LoveDADataset, data_root={LOVEDA!r}, "
                               'train.datasets[0]')
    assert leaves[1].where.endswith('train.datasets[1].dataset')
