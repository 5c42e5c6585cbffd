# The S5 authors' released MoE-MDF detector, ViT-B (DIOR-R + DOTA-v2),
# rebuilt for its converted weights (tools/model_converters/s5_to_s5mm.py,
# kind det; README_det.md). Their model (MiliLab/S5,
# RS_Finetune/Object_Detection/configs/obb/oriented_rcnn/mtd/
# vit_b_moe_dior_r_dota2.py):
# - ViT_MOE: img_size 1024, a 64 x 64 pos_embed added without resizing and
#   without the cls token, mmcv's LayerNorm default eps 1e-5, 2 experts
#   (P = 256) in task order ['dior', 'dota'];
# - fpn1..fpn4 inside the ViT: Feature2PyramidLN (channel LayerNorm);
# - per task: FPN (5 levels), OrientedRPNHead, OBBShared2FCBBoxHead with an
#   OBBSingleRoIExtractor enlarging each RoI (h x 1.4, w x 1.2);
# - test: RPN 2000 boxes per level before, 2000 after a per-level NMS at
#   IoU 0.8 with no size filter; RCNN score 0.05, rotated NMS IoU 0.1, 2000
#   boxes per image; images resized to 1024 (keep ratio), padded to 32.
# Class rows are in mmrotate's DIORDataset / DOTAv2Dataset order after
# conversion, so the standard test sets of the base config are used.
_base_ = ['../mdf_det/moe-mdf-p256_vit-b_oriented-rcnn-le90_8xb2-12e_'
          'dior-r-dota2-1024x1024.py']
model = dict(
    backbone=dict(
        img_size=(1024, 1024),
        with_cls_token=False,
        drop_path_rate=0.1,
        norm_cfg=dict(type='LN', eps=1e-5)),
    neck=dict(
        _delete_=True,
        type='mmseg.Feature2PyramidLN',
        embed_dim=_base_.model.backbone.embed_dims,
        rescales=[4, 2, 1, 0.5]),
    roi_head=dict(
        bbox_roi_extractor=dict(
            type='ExtendedRotatedRoIExtractor', extend_factor=(1.4, 1.2))),
    test_cfg=dict(
        # their RPN filters no box by size (min_bbox_size 0 there means
        # off; here -1 is off, 0 would drop boxes of zero width or height)
        rpn=dict(
            nms_pre=2000,
            max_per_img=2000,
            nms=dict(type='nms', iou_threshold=0.8),
            min_bbox_size=-1),
        rcnn=dict(
            _delete_=True,
            score_thr=0.05,
            nms=dict(type='nms_rotated', iou_threshold=0.1),
            max_per_img=2000)))
