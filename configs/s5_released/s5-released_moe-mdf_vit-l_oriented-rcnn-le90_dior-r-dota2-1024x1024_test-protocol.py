# The paper's detection protocol for the authors' released ViT-L detector
# (docs/evaluation.md): DIOR-R test -> dior/mAP; DOTA-v2 val patches ->
# dota/mAP, and their merged scenes scored against the raw val labelTxt ->
# dota/mAP_full_scene.
#   python tools/test.py THIS_CONFIG CONVERTED_CKPT
_base_ = [
    './s5-released_moe-mdf_vit-l_oriented-rcnn-le90_dior-r-dota2-1024x1024.py',
    '../_base_/datasets/dota_v2_protocol.py',
]
test_evaluator = dict(
    dataset_metrics=dict(dota=_base_.dota_protocol_metric))
