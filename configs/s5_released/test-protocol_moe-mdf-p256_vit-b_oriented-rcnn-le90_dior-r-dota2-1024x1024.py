# The paper's detection protocol for the MoE-MDF ViT-B detector
# (docs/evaluation.md): DIOR-R test (ImageSets/Main/test.txt) -> dior/mAP;
# DOTA-v2 val patches -> dota/mAP and their merged scenes against the raw
# val labelTxt -> dota/mAP_full_scene.
#   python tools/test.py THIS_CONFIG CKPT
# For another detector built on dior_r_dota_v2.py, replace the first base.
_base_ = [
    '../mdf_det/moe-mdf-p256_vit-b_oriented-rcnn-le90_8xb2-12e_'
    'dior-r-dota2-1024x1024.py',
    '../_base_/datasets/dota_v2_protocol.py',
]
test_evaluator = dict(
    dataset_metrics=dict(dota=_base_.dota_protocol_metric))
