# The paper's segmentation protocol (S5, docs/evaluation.md), as prefixed
# variables (`rsseg4_protocol_`) and no _base_, to be included next to
# rsseg4.py (or a config built on it), e.g. configs/s5_released/test-*.py:
# - Vaihingen and Potsdam on the FULL val tiles (not the 512 crops of
#   mmseg's converters), by slide inference (512 windows, stride 341);
#   full tiles in img_dir/val_full, labels in ann_dir/val_full (the
#   converters' colour -> index mapping, label 0 = ignored boundary);
# - LoveDA and OpenEarthMap resized to 512 (as in rsseg4.py's test sets;
#   predictions are resized back and compared at the original size);
# - every metric logs mIoU and mF1 (mmseg's IoUMetric 'mFscore'); the
#   paper reports Potsdam as mF1, the others as mIoU: the keys of the
#   multi-dataset mean.
rsseg4_protocol_test_cfg = dict(
    mode='whole',
    per_dataset=dict(
        vaihingen=dict(mode='slide', crop_size=(512, 512), stride=(341, 341)),
        potsdam=dict(mode='slide', crop_size=(512, 512), stride=(341, 341))))

rsseg4_protocol_vaihingen_test_dataset = dict(
    type='ISPRSDataset',
    data_root='data/vaihingen/',
    data_prefix=dict(
        img_path='img_dir/val_full', seg_map_path='ann_dir/val_full'),
    pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotationsChecked', reduce_zero_label=True,
             num_classes=6),
        dict(type='PackSegInputs'),
        dict(type='SetDatasetName', name='vaihingen'),
    ])
rsseg4_protocol_potsdam_test_dataset = dict(
    type='PotsdamDataset',
    data_root='data/potsdam/',
    data_prefix=dict(
        img_path='img_dir/val_full', seg_map_path='ann_dir/val_full'),
    pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotationsChecked', reduce_zero_label=True,
             num_classes=6),
        dict(type='PackSegInputs'),
        dict(type='SetDatasetName', name='potsdam'),
    ])
rsseg4_protocol_metric = dict(type='IoUMetric',
                              iou_metrics=['mIoU', 'mFscore'])
rsseg4_protocol_evaluator = dict(
    type='MultiDatasetEvaluator',
    metrics=dict(
        vaihingen=rsseg4_protocol_metric,
        potsdam=rsseg4_protocol_metric,
        loveda=rsseg4_protocol_metric,
        openearthmap=rsseg4_protocol_metric),
    mean_of=dict(
        vaihingen='mIoU', potsdam='mFscore', loveda='mIoU',
        openearthmap='mIoU'))
