# The S5 authors' released segmentation model, MoE-MDF ViT-B (P = 256, 4
# experts; their RS_Finetune/Semantic_Segmentation/md_finetune.py), rebuilt
# exactly: their ViT with one 256-channel FFN expert per dataset in THEIR
# task order (md_finetune.py --tasks: vaihingen, potsdam, openearthmap,
# loveda; expert k = dataset_names[k]), Feature2PyramidLN, and per dataset
# mmseg's UPerHead (align_corners=False inside) + their classifier + their
# final logit resize (bilinear, align_corners=True): FinalResizeUPerHead.
# Their heads' class counts (configs/rsseg.yaml): Vaihingen 5 and Potsdam 5
# (clutter ignored), OpenEarthMap 9 (class 0 'other'), LoveDA 7.
# Convert, then test:
#   python tools/model_converters/s5_to_s5mm.py <released ViT-B seg file> \
#       checkpoints/s5-released_moe-mdf_vit-b.pth --check-config THIS_CONFIG
#   python tools/test.py THIS_CONFIG checkpoints/s5-released_moe-mdf_vit-b.pth
_base_ = [
    '../mdf_seg/moe-mdf-p256_vit-b_upernet_8xb12-100e_rsseg4-512x512.py',
    '../_base_/datasets/rsseg4_test_protocol.py',
]
released_dataset_names = ['vaihingen', 'potsdam', 'openearthmap', 'loveda']
released_num_classes = [5, 5, 9, 7]
model = dict(
    backbone=dict(dataset_names=released_dataset_names, init_cfg=None),
    test_cfg=_base_.rsseg4_protocol_test_cfg,
    neck=dict(_delete_=True, type='Feature2PyramidLN',
              embed_dim=_base_.model.backbone.embed_dims),
    decode_heads={
        name: dict(
            _base_.model.decode_heads[name],
            type='FinalResizeUPerHead',
            final_align_corners=True,
            num_classes=num_classes)
        for name, num_classes in zip(released_dataset_names,
                                     released_num_classes)
    })
# Validation and test: the authors' label sets and test-time forwards
# (configs/_base_/datasets/rsseg4_test_protocol.py, docs/evaluation.md):
# vaihingen/mIoU, potsdam/mFscore (the paper's mF1), loveda/mIoU (val; the
# paper's is the test server's), openearthmap/mIoU and their mean; for
# Vaihingen / Potsdam also *_as_authors (clutter counted as car, as their
# metric does: the numbers to compare with the paper). Training data keeps
# s5_mm's label sets (6 / 6 / 7 / 8 classes): this config evaluates only.
val_dataloader = dict(
    dataset=dict(datasets=_base_.rsseg4_protocol_test_datasets))
test_dataloader = val_dataloader
val_evaluator = dict(_delete_=True, **_base_.rsseg4_protocol_evaluator)
test_evaluator = val_evaluator
