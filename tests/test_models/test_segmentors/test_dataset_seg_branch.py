"""s5_mm.models.segmentors.dataset_seg_branch.DatasetSegBranch: built from
the parts of a plain mmseg EncoderDecoder, it has that model's keys, losses
and whole / slide predictions; a routed backbone gets the dataset id."""
import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from torch import nn

import s5_mm  # noqa: F401
from s5_mm.models.segmentors.dataset_seg_branch import DatasetSegBranch

HEAD = dict(type='FCNHead', in_channels=8, channels=8, num_convs=1,
            concat_input=False, num_classes=3)


def plain(test_cfg):
    init_default_scope('mmseg')
    torch.manual_seed(0)
    return MODELS.build(dict(
        type='EncoderDecoder',
        backbone=dict(type='VisionTransformer', img_size=(32, 32),
                      patch_size=8, embed_dims=8, num_layers=1, num_heads=2,
                      mlp_ratio=1, out_indices=(0, ), final_norm=True),
        neck=dict(type='MultiLevelNeck', in_channels=[8], out_channels=8,
                  scales=[1]),
        decode_head=HEAD, auxiliary_head=dict(HEAD, loss_decode=dict(
            type='CrossEntropyLoss', loss_weight=0.4)),
        test_cfg=ConfigDict(test_cfg))).eval()


def branch_of(model, dataset_id=0):
    return DatasetSegBranch(model.backbone, model.decode_head, dataset_id,
                            neck=model.neck,
                            auxiliary_head=model.auxiliary_head,
                            test_cfg=model.test_cfg).eval()


def samples(n=2, size=32):
    out = []
    for i in range(n):
        s = SegDataSample(metainfo=dict(img_shape=(size, size),
                                        ori_shape=(size, size),
                                        pad_shape=(size, size)))
        s.gt_sem_seg = PixelData(data=torch.randint(0, 3, (1, size, size),
                                                    generator=torch.Generator()
                                                    .manual_seed(i)))
        out.append(s)
    return out


@pytest.mark.parametrize('test_cfg', [
    dict(mode='whole'),
    dict(mode='slide', crop_size=(32, 32), stride=(16, 16))])
def test_same_as_the_plain_model(test_cfg):
    model = plain(test_cfg)
    branch = branch_of(model)
    assert branch.state_dict().keys() == model.state_dict().keys()
    assert (branch.num_classes, branch.out_channels) == (3, 3)
    size = 48 if test_cfg['mode'] == 'slide' else 32
    inputs = torch.randn(2, 3, size, size)
    with torch.no_grad():
        ours = branch.predict(inputs, samples(2, size))
        ref = model.predict(inputs, samples(2, size))
    for a, b in zip(ours, ref):
        torch.testing.assert_close(a.seg_logits.data, b.seg_logits.data)
        assert torch.equal(a.pred_sem_seg.data, b.pred_sem_seg.data)
    inputs = torch.randn(2, 3, 32, 32)
    ours = branch.loss(inputs, samples())
    ref = model.loss(inputs, samples())
    assert set(ours) == set(ref) == {'decode.loss_ce', 'decode.acc_seg',
                                     'aux.loss_ce', 'aux.acc_seg'}
    for k in ours:
        torch.testing.assert_close(ours[k], ref[k])
    feats = model.extract_feat(inputs)
    ours = branch.loss_by_feat(feats, samples())
    for k in ours:
        torch.testing.assert_close(ours[k], ref[k])


def test_routed_backbone_gets_the_dataset_id():
    calls = []

    class Routed(nn.Module):
        dataset_names = ['a', 'b']

        def forward(self, x, dataset_ids):
            calls.append(dataset_ids)
            return [x[:, :1].repeat(1, 8, 1, 1)]

    init_default_scope('mmseg')
    head = MODELS.build(HEAD)
    branch = DatasetSegBranch(Routed(), head, dataset_id=1)
    feats = branch.extract_feat(torch.ones(1, 3, 4, 4))
    assert calls == [1] and feats[0].shape == (1, 8, 4, 4)
    assert not branch.with_neck and not branch.with_auxiliary_head
