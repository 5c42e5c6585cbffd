"""s5_mm.utils.tiny_config.shrink_cfg: ViT-B-size widths, depths and sizes
replaced by tiny ones, everything else kept."""
import copy

from s5_mm.utils.tiny_config import shrink_cfg

BIG = dict(
    type='EncoderDecoder',
    backbone=dict(type='MoEViT', embed_dims=768, num_layers=12, num_heads=12,
                  out_indices=(3, 5, 7, 11), img_size=(512, 512),
                  in_channels=3, expert_channels=64, drop_path_rate=0.1),
    neck=dict(in_channels=[768, 768, 768, 768], out_channels=768,
              scales=[4, 2, 1, 0.5]),
    decode_head=dict(in_channels=(768, 768), channels=512, num_classes=7,
                     num_layers=2, in_index=[0, 1]),
    rpn_head=dict(in_channels=256, feat_channels=256),
    bbox_head=dict(fc_out_channels=1024, out_channels=96, roi_size=7),
    pipeline=[dict(type='Resize', scale=(1024, 1024)),
              dict(type='RandomCrop', crop_size=(512, 512)),
              dict(type='Resize', scale=(256, 256)),
              dict(type='RandomCrop', crop_size=[384, 384])],
    test_cfg=dict(mode='slide', crop_size=(512, 512), stride=(341, 341)),
    size=(1024, 1024), patch_size=16)


def test_widths_depths_and_sizes_are_replaced():
    before = copy.deepcopy(BIG)
    tiny = shrink_cfg(BIG)
    assert BIG == before  # a new object, the input unchanged
    assert tiny == dict(
        type='EncoderDecoder',
        # depth 4 and its 4 outputs only where the node has embed_dims;
        # RGB in_channels stays 3
        backbone=dict(type='MoEViT', embed_dims=32, num_layers=4,
                      num_heads=2, out_indices=(0, 1, 2, 3),
                      img_size=(64, 64), in_channels=3, expert_channels=8,
                      drop_path_rate=0.1),
        neck=dict(in_channels=[32, 32, 32, 32], out_channels=32,
                  scales=[4, 2, 1, 0.5]),
        decode_head=dict(in_channels=[32, 32], channels=16, num_classes=7,
                         num_layers=2, in_index=[0, 1]),
        rpn_head=dict(in_channels=16, feat_channels=16),
        # 96 is no ViT-B width: kept
        bbox_head=dict(fc_out_channels=32, out_channels=96, roi_size=7),
        # scales from 512 up -> 128, crops from 512 up -> 64, smaller kept
        pipeline=[dict(type='Resize', scale=(128, 128)),
                  dict(type='RandomCrop', crop_size=(64, 64)),
                  dict(type='Resize', scale=(256, 256)),
                  dict(type='RandomCrop', crop_size=[384, 384])],
        test_cfg=dict(mode='slide', crop_size=(64, 64), stride=(48, 48)),
        size=(64, 64), patch_size=16)
    assert isinstance(tiny['pipeline'], list)
    assert isinstance(tiny['backbone']['out_indices'], tuple)
    assert shrink_cfg(tiny) == tiny  # tiny stays tiny
