"""FinalResizeUPerHead: UPerHead inside, the final logit resize with its own
align_corners (the S5 authors': bilinear, align_corners=True)."""
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

import s5_mm  # noqa: F401

CFG = dict(in_channels=[8] * 4, in_index=[0, 1, 2, 3], channels=8,
           num_classes=3, norm_cfg=dict(type='BN'), align_corners=False)


def heads():
    init_default_scope('mmseg')
    torch.manual_seed(0)
    ours = MODELS.build(dict(CFG, type='FinalResizeUPerHead',
                             final_align_corners=True)).eval()
    plain = MODELS.build(dict(CFG, type='UPerHead')).eval()
    plain.load_state_dict(ours.state_dict())
    return ours, plain


def feats():
    torch.manual_seed(1)
    return [torch.randn(2, 8, s, s) for s in (8, 4, 2, 1)]


def test_predict_resizes_with_align_corners_true():
    ours, plain = heads()
    metas = [dict(img_shape=(32, 32), pad_shape=(32, 32))] * 2
    with torch.no_grad():
        logits = plain.forward(feats())  # the head's own output, 8x8
        ref = F.interpolate(logits, size=(32, 32), mode='bilinear',
                            align_corners=True)
        out = ours.predict(feats(), metas, None)
        mmseg_out = plain.predict(feats(), metas, None)
    assert out.shape == (2, 3, 32, 32)
    assert (out - ref).abs().max() <= 1e-6
    # corners are copied exactly with align_corners=True
    assert torch.equal(out[..., 0, 0], logits[..., 0, 0])
    assert torch.equal(out[..., -1, -1], logits[..., -1, -1])
    assert (mmseg_out - ref).abs().max() > 1e-3  # mmseg's flag differs


def test_default_is_the_head_flag():
    init_default_scope('mmseg')
    head = MODELS.build(dict(CFG, type='FinalResizeUPerHead'))
    assert head.final_align_corners is False
    metas = [dict(img_shape=(16, 16), pad_shape=(16, 16))] * 2
    plain = MODELS.build(dict(CFG, type='UPerHead')).eval()
    plain.load_state_dict(head.state_dict())
    with torch.no_grad():
        assert torch.equal(head.eval().predict(feats(), metas, None),
                           plain.predict(feats(), metas, None))


def test_loss_uses_the_final_resize():
    ours, plain = heads()
    torch.manual_seed(2)
    labels = torch.randint(0, 3, (2, 1, 32, 32))
    samples = []
    for b in range(2):
        sample = SegDataSample()
        sample.gt_sem_seg = PixelData(data=labels[b])
        samples.append(sample)
    with torch.no_grad():
        loss = ours.loss_by_feat(plain.forward(feats()), samples)['loss_ce']
        logits = F.interpolate(plain.forward(feats()), size=(32, 32),
                               mode='bilinear', align_corners=True)
        ref = F.cross_entropy(logits, labels[:, 0], ignore_index=255)
    assert abs(loss.item() - ref.item()) <= 1e-6
