"""s5_mm.models.necks.feature2pyramid_ln.Feature2PyramidLN: mmseg's
Feature2Pyramid with a channel LayerNorm (eps 1e-6) in the 4x branch,
checked against the branch written out here."""
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

import s5_mm  # noqa: F401


def test_4x_branch_is_convt_ln_gelu_convt():
    init_default_scope('mmseg')
    torch.manual_seed(0)
    neck = MODELS.build(dict(type='Feature2PyramidLN', embed_dim=8)).eval()
    for p in neck.parameters():  # LN weight / bias away from 1 / 0
        p.data.normal_()
    x = torch.randn(2, 8, 4, 4)
    outs = neck([x] * 4)
    assert [tuple(o.shape) for o in outs] == [(2, 8, 16, 16), (2, 8, 8, 8),
                                              (2, 8, 4, 4), (2, 8, 2, 2)]
    up1, ln, _, up2 = neck.upsample_4x
    y = F.conv_transpose2d(x, up1.weight, up1.bias, stride=2)
    mean = y.mean(1, keepdim=True)
    var = y.var(1, unbiased=False, keepdim=True)
    y = (y - mean) / torch.sqrt(var + 1e-6)
    y = y * ln.weight[None, :, None, None] + ln.bias[None, :, None, None]
    y = F.conv_transpose2d(F.gelu(y), up2.weight, up2.bias, stride=2)
    torch.testing.assert_close(outs[0], y, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(outs[2], x)
    torch.testing.assert_close(outs[3], F.max_pool2d(x, 2))


def test_parameter_names_of_plain_feature2pyramid():
    init_default_scope('mmseg')
    ln = MODELS.build(dict(type='Feature2PyramidLN', embed_dim=8,
                           rescales=(4, 2, 1, 0.5)))
    plain = MODELS.build(dict(type='Feature2Pyramid', embed_dim=8,
                              rescales=[4, 2, 1, 0.5],
                              norm_cfg=dict(type='mmpretrain.LN2d',
                                            eps=1e-6)))
    assert ln.state_dict().keys() == plain.state_dict().keys()
    assert ln.upsample_4x[1].eps == 1e-6
    bn = MODELS.build(dict(type='Feature2PyramidLN', embed_dim=8,
                           norm_cfg=dict(type='BN')))
    assert isinstance(bn.upsample_4x[1], torch.nn.BatchNorm2d)
    assert [n for n, _ in bn.named_parameters()] == [
        n for n, _ in ln.named_parameters()]
