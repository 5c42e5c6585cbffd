# The paper's segmentation protocol for the MoE-MDF ViT-B segmentor
# (docs/evaluation.md): Vaihingen / Potsdam full val tiles by slide
# inference, LoveDA / OpenEarthMap resized to 512; vaihingen/mIoU,
# potsdam/mFscore (the paper's mF1), loveda/mIoU, openearthmap/mIoU (and
# the other of mIoU / mFscore for each), mean of those four.
#   python tools/test.py THIS_CONFIG CKPT
# For another segmentor built on rsseg4.py, replace the first base.
_base_ = [
    '../mdf_seg/moe-mdf-p256_vit-b_upernet_8xb12-100e_rsseg4-512x512.py',
    '../_base_/datasets/rsseg4_test_protocol.py',
]
model = dict(test_cfg=_base_.rsseg4_protocol_test_cfg)
test_dataloader = dict(
    dataset=dict(datasets=[
        _base_.rsseg4_protocol_vaihingen_test_dataset,
        _base_.rsseg4_protocol_potsdam_test_dataset,
        _base_.loveda_test_dataset,
        _base_.openearthmap_test_dataset,
    ]))
test_evaluator = dict(_delete_=True, **_base_.rsseg4_protocol_evaluator)
