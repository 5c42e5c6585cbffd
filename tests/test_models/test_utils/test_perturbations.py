"""The perturbations of FixMatch / UniMatch and their seeded generator, on
hand-made tensors."""
import pytest
import torch

from s5_mm.models.utils import (channel_dropout, complementary_channel_dropout,
                                cutmix, cutmix_boxes, seeded_generator)

AREA, RATIO = (0.02, 0.4), (0.3, 1 / 0.3)


def test_cutmix_boxes_shape_and_area():
    gen = torch.Generator().manual_seed(0)
    boxes = cutmix_boxes(200, 32, 48, 0.5, AREA, RATIO, gen)
    has_box = boxes.flatten(1).any(1)
    assert 0.35 < has_box.float().mean() < 0.65  # p = 0.5
    area = boxes.flatten(1).float().mean(1)[has_box]
    assert area.min() > 0.005 and area.max() <= 0.41
    for m in boxes[has_box][:20]:  # each mask is one axis-aligned rectangle
        ys, xs = torch.nonzero(m, as_tuple=True)
        rect = m[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
        assert rect.all() and rect.sum() == m.sum()


def test_cutmix_same_box_for_image_label_conf_and_ignore():
    b, h, w = 4, 16, 16
    idx = torch.arange(b).view(b, 1, 1)
    # every tensor of sample i carries i, so any pixel tells its source
    image = idx[:, None].expand(b, 3, h, w).float()
    label = (idx + 10).expand(b, h, w).clone()
    conf = (idx / 10).expand(b, h, w).clone()
    ignore = (idx % 2 == 1).expand(b, h, w).clone()
    gen = torch.Generator().manual_seed(3)
    m_img, (m_label, m_conf, m_ignore) = cutmix(
        image, (label, conf, ignore), 1.0, AREA, RATIO, gen)
    src = m_img[:, 0].long()
    assert torch.all(m_img == m_img[:, :1])  # all channels alike
    assert torch.equal(m_label, src + 10)
    assert torch.allclose(m_conf, src / 10)
    assert torch.equal(m_ignore, src % 2 == 1)
    for i in range(b):  # pasted pixels come from the reversed batch
        assert set(src[i].unique().tolist()) == {i, b - 1 - i}
    # and the box is the one cutmix_boxes draws from the same generator
    boxes = cutmix_boxes(b, h, w, 1.0, AREA, RATIO,
                         torch.Generator().manual_seed(3))
    assert torch.equal(src != idx, boxes)


def test_channel_dropout():
    # the dropout zeroes whole channels with rate p and rescales the rest
    feats = [torch.ones(8, 64, 3, 3)]
    out = channel_dropout(feats, 0.5, torch.Generator().manual_seed(0))[0]
    per_channel = out[:, :, 0, 0]
    assert torch.all((out == per_channel[..., None, None]))
    assert set(per_channel.unique().tolist()) == {0.0, 2.0}
    assert 0.35 < (per_channel == 0).float().mean().item() < 0.65
    # the mask is the generator's first draw, compared with p by hand
    keep = torch.rand(8, 64, generator=torch.Generator().manual_seed(0)) >= .5
    assert torch.equal(per_channel, keep.float() * 2)
    out = channel_dropout(feats, 0.25, torch.Generator().manual_seed(0))[0]
    assert out.unique().tolist() == [0.0, pytest.approx(4 / 3)]


def test_complementary_channel_dropout():
    n, c = 6, 64
    feats = [torch.ones(2 * n, c, 2, 2)] * 4
    out = complementary_channel_dropout(feats, 0.5,
                                        torch.Generator().manual_seed(1))
    m = out[0][:, :, 0, 0]
    m1, m2 = m[:n], m[n:]
    kept = (m1 == 1).all(1)
    assert kept.sum().item() == int(n * 0.5)  # keep_ratio = 0.5
    assert torch.all(m2[kept] == 1)
    dropped = ~kept
    # view 1 keeps exactly the channels view 2 drops, both scaled by 2
    assert torch.all(m1[dropped] + m2[dropped] == 2)
    assert set(m1[dropped].unique().tolist()) == {0.0, 2.0}
    assert all(torch.equal(o[:, :, 0, 0], m) for o in out)  # same per level
    # levels of another width get masks of their own
    two = complementary_channel_dropout(
        [torch.ones(2 * n, c, 1, 1), torch.ones(2 * n, 32, 1, 1)], 0.0,
        torch.Generator().manual_seed(1))
    assert two[1].shape == (2 * n, 32, 1, 1)
    assert torch.all(two[1][:n] + two[1][n:] == 2)


def test_seeded_generator_by_hand():
    seed = torch.initial_seed()
    for it, rank in [(0, 0), (7, 0), (7, 3)]:
        want = torch.Generator().manual_seed(
            (seed + 1000003 * (it + 1) + 7919 * rank) % 2**63)
        got = seeded_generator(it, rank)
        assert torch.equal(torch.rand(5, generator=got),
                           torch.rand(5, generator=want))
    # outside DDP the rank is 0
    assert torch.equal(torch.rand(5, generator=seeded_generator(7)),
                       torch.rand(5, generator=seeded_generator(7, 0)))
    draws = {tuple(torch.rand(3, generator=seeded_generator(i, r)).tolist())
             for i in range(3) for r in range(2)}
    assert len(draws) == 6  # every iteration and rank its own stream
