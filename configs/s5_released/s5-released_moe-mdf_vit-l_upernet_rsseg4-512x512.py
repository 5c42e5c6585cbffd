# The S5 authors' released segmentation model, MoE-MDF ViT-L (P = 256, 4
# experts), rebuilt exactly; see the ViT-B file (same expert order, heads
# and final resize; ViT-L: 1024 dims, 24 layers, out indices 7/11/15/23).
# Convert with
#   python tools/model_converters/s5_to_s5mm.py <released ViT-L seg file> \
#       checkpoints/s5-released_moe-mdf_vit-l.pth --check-config THIS_CONFIG
_base_ = [
    '../mdf_seg/moe-mdf-p256_vit-l_upernet_8xb12-100e_rsseg4-512x512.py',
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
