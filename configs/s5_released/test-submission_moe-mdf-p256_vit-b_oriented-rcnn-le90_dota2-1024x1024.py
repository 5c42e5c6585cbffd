# DOTA-v2 test -> the evaluation server's Task1 submission for the
# MoE-MDF ViT-B detector (docs/evaluation.md):
#   python tools/test.py THIS_CONFIG CKPT
# writes work_dirs/dota2_test_submission/Task1/Task1_<class>.txt and
# .../Task1/Task1.zip (upload the zip); another folder:
#   --cfg-options test_evaluator.dataset_metrics.dota.outfile_prefix=DIR/Task1
# For another detector, replace the first base.
_base_ = [
    '../mdf_det/moe-mdf-p256_vit-b_oriented-rcnn-le90_8xb2-12e_'
    'dior-r-dota2-1024x1024.py',
    '../_base_/datasets/dota_v2_protocol.py',
]
test_dataloader = dict(_delete_=True, **_base_.dota_submission_dataloader)
test_evaluator = dict(_delete_=True, **_base_.dota_submission_evaluator)
