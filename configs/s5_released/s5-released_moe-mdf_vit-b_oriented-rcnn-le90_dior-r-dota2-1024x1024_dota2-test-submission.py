# DOTA-v2 test -> the evaluation server's Task1 submission for the authors'
# released ViT-B detector (docs/evaluation.md):
#   python tools/test.py THIS_CONFIG CONVERTED_CKPT
# writes work_dirs/dota2_test_submission/Task1/Task1_<class>.txt and
# .../Task1/Task1.zip (upload the zip).
_base_ = [
    './s5-released_moe-mdf_vit-b_oriented-rcnn-le90_dior-r-dota2-1024x1024.py',
    '../_base_/datasets/dota_v2_protocol.py',
]
test_dataloader = dict(_delete_=True, **_base_.dota_submission_dataloader)
test_evaluator = dict(_delete_=True, **_base_.dota_submission_evaluator)
