# The S5 authors' segmentation evaluation (MiliLab/S5
# RS_Finetune/Semantic_Segmentation/evaluate.py, the test script of their
# README; configs/rsseg.yaml; util/test_utils.py), as prefixed variables
# (`rsseg4_protocol_`) and no _base_, to be included next to rsseg4.py (or
# a config built on it), e.g. configs/s5_released/test-*.py.
# docs/evaluation.md explains each point.
#
# Their label sets (the released heads' class counts):
# - Vaihingen, Potsdam: 5 classes, clutter ignored (their ignore_index 5):
#   mmseg's ISPRSDataset / PotsdamDataset restricted to 5 classes by
#   `metainfo`, so mmseg's label_map sends clutter to 255;
# - OpenEarthMap: 9 classes, label 0 ('unknown', their 'other') a class:
#   S5OpenEarthMapDataset;
# - LoveDA: 7 classes, 0 = no-data ignored (as rsseg4.py).
# Their test-time forwards (model.test_cfg.per_dataset, modes of
# s5_mm/models/segmentors/prob_test_modes.py), on the images at their size
# (no Resize in the pipelines; predictions are compared at that size):
# - Vaihingen, Potsdam ('original'): each 512 val crop whole, mean softmax
#   of the crop and its horizontal and vertical flips. Their val split
#   (splits/potsdam/val.txt: 144 crops a tile) is the crop grid of mmseg's
#   converters and tools/dataset_converters/isprs.py: img_dir/val;
# - OpenEarthMap ('resize'): the normalised image resized to 512 x 512
#   (bilinear, align_corners=True), softmax resized back the same way;
# - LoveDA ('slide_window'): 512 windows at multiples of 256 clipped to the
#   image, softmax summed. Their LoveDA number is the test server's
#   (evaluate.py writes the test predictions and scores nothing); locally
#   this scores LoveDA val.
# Every metric logs mIoU and mF1 (IoUMetric 'mFscore'); the paper reports
# Potsdam as mF1, the others as mIoU: the keys of the multi-dataset mean.
# Their metric counts clutter as correct car pixels (a binning quirk,
# docs/evaluation.md): Vaihingen / Potsdam log that too (`*_as_authors`).
rsseg4_protocol_isprs_classes = ('impervious_surface', 'building',
                                 'low_vegetation', 'tree', 'car')
rsseg4_protocol_test_cfg = dict(
    mode='whole',
    per_dataset=dict(
        vaihingen=dict(
            mode='whole', flip_directions=['horizontal', 'vertical']),
        potsdam=dict(
            mode='whole', flip_directions=['horizontal', 'vertical']),
        openearthmap=dict(
            mode='resize', resize_size=(512, 512), resize_align_corners=True),
        loveda=dict(
            mode='slide_prob_sum', crop_size=(512, 512), stride=(256, 256))))


def __pipeline(name, num_classes, reduce_zero_label=True):
    """Load, labels (checked against the label set), pack, tag with the
    dataset name."""
    return [
        dict(type='LoadImageChecked'),
        dict(type='LoadAnnotationsChecked',
             reduce_zero_label=reduce_zero_label, num_classes=num_classes),
        dict(type='PackSegInputs'),
        dict(type='SetDatasetName', name=name),
    ]


def __val_dataset(dataset_type, data_root, pipeline, **kwargs):
    """The val split (img_dir/val, ann_dir/val) of one dataset."""
    return dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val'),
        **kwargs,
        pipeline=pipeline)


rsseg4_protocol_vaihingen_pipeline = __pipeline('vaihingen', 5)
rsseg4_protocol_potsdam_pipeline = __pipeline('potsdam', 5)
rsseg4_protocol_loveda_pipeline = __pipeline('loveda', 7)
rsseg4_protocol_openearthmap_pipeline = __pipeline(
    'openearthmap', 9, reduce_zero_label=False)

rsseg4_protocol_vaihingen_test_dataset = __val_dataset(
    'ISPRSDataset', 'data/vaihingen/', rsseg4_protocol_vaihingen_pipeline,
    metainfo=dict(classes=rsseg4_protocol_isprs_classes))
rsseg4_protocol_potsdam_test_dataset = __val_dataset(
    'PotsdamDataset', 'data/potsdam/', rsseg4_protocol_potsdam_pipeline,
    metainfo=dict(classes=rsseg4_protocol_isprs_classes))
rsseg4_protocol_loveda_test_dataset = __val_dataset(
    'LoveDADataset', 'data/loveDA/', rsseg4_protocol_loveda_pipeline)
rsseg4_protocol_openearthmap_test_dataset = __val_dataset(
    'S5OpenEarthMapDataset', 'data/openearthmap/',
    rsseg4_protocol_openearthmap_pipeline)
# in the dataset order of rsseg4.py
rsseg4_protocol_test_datasets = [
    rsseg4_protocol_vaihingen_test_dataset,
    rsseg4_protocol_potsdam_test_dataset,
    rsseg4_protocol_loveda_test_dataset,
    rsseg4_protocol_openearthmap_test_dataset,
]

# Alternative for Vaihingen / Potsdam: the FULL val tiles (written by
# `tools/dataset_converters/isprs.py --no-crop` to img_dir/val_full and
# ann_dir/val_full), by mmseg's slide inference; use these datasets and
# this test_cfg's per_dataset entries instead.
rsseg4_protocol_full_tiles_test_cfg = dict(
    vaihingen=dict(mode='slide', crop_size=(512, 512), stride=(341, 341)),
    potsdam=dict(mode='slide', crop_size=(512, 512), stride=(341, 341)))
rsseg4_protocol_vaihingen_full_test_dataset = dict(
    rsseg4_protocol_vaihingen_test_dataset,
    data_prefix=dict(
        img_path='img_dir/val_full', seg_map_path='ann_dir/val_full'))
rsseg4_protocol_potsdam_full_test_dataset = dict(
    rsseg4_protocol_potsdam_test_dataset,
    data_prefix=dict(
        img_path='img_dir/val_full', seg_map_path='ann_dir/val_full'))

rsseg4_protocol_metric = dict(type='IoUMetric',
                              iou_metrics=['mIoU', 'mFscore'])
# Vaihingen / Potsdam: also `mIoU_as_authors` / `mFscore_as_authors`, with
# clutter pixels (label file value 6) counted as correct car (class 4)
# pixels as the authors' metric counts them; the plain keys ignore clutter.
rsseg4_protocol_isprs_metric = dict(
    type='CountedAsClassIoUMetric',
    raw_label=6,
    as_class=4,
    iou_metrics=['mIoU', 'mFscore'])
rsseg4_protocol_evaluator = dict(
    type='MultiDatasetEvaluator',
    metrics=dict(
        vaihingen=rsseg4_protocol_isprs_metric,
        potsdam=rsseg4_protocol_isprs_metric,
        loveda=rsseg4_protocol_metric,
        openearthmap=rsseg4_protocol_metric),
    mean_of=dict(
        vaihingen='mIoU', potsdam='mFscore', loveda='mIoU',
        openearthmap='mIoU'))
