"""ExtendedRotatedRoIExtractor samples what OBBDetection's
OBBSingleRoIExtractor(extend_factor=(1.4, 1.2)) samples: compared with the
reference of tests/utils/obbdet_reference.py (their level rule and their
RoIAlignRotated kernel, in torch) on random features and RoIs."""
import math

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmrotate.registry import MODELS

from obbdet_reference import extract
from s5mm_tiny_configs import shipped

CONFIG = ('s5-released_moe-mdf_vit-b_oriented-rcnn-le90_dior-r-dota2-'
          '1024x1024.py')
STRIDES = (4, 8, 16, 32)


def released_extractor(**changes):
    init_default_scope('mmrotate')
    cfg = Config.fromfile(shipped(CONFIG)).model.roi_head.bbox_roi_extractor
    if changes.get('type') == 'RotatedSingleRoIExtractor':
        cfg.pop('extend_factor')
    cfg.update(changes)
    return MODELS.build(cfg)


def random_case(n=300, size=512, channels=8, seed=0):
    gen = torch.Generator().manual_seed(seed)
    feats = tuple(
        torch.randn(2, channels, size // s, size // s, generator=gen)
        for s in STRIDES)
    xy = size * torch.rand(n, 2, generator=gen)  # some at the borders
    wh = torch.exp(math.log(8) + math.log(60) * torch.rand(n, 2,
                                                           generator=gen))
    theta = (torch.rand(n, 1, generator=gen) - 0.5) * math.pi
    batch = torch.randint(0, 2, (n, 1), generator=gen).float()
    return feats, torch.cat([batch, xy, wh, theta], 1)  # mmrotate angles


def test_config_builds_the_authors_extractor():
    extractor = released_extractor()
    assert type(extractor).__name__ == 'ExtendedRotatedRoIExtractor'
    assert extractor.extend_factor == (1.4, 1.2)
    assert list(extractor.featmap_strides) == list(STRIDES)
    assert extractor.finest_scale == 56


def test_samples_the_same_points_as_obbdetection():
    feats, rois = random_case()
    extractor = released_extractor(out_channels=8)
    with torch.no_grad():
        ours = extractor(feats, rois)
    their_rois = rois * torch.tensor([1., 1, 1, 1, 1, -1])  # their angles
    theirs, levels = extract(feats, their_rois, STRIDES)
    # the same level for every RoI, all levels used
    ext = extractor.roi_rescale(rois, extractor.extend_factor)
    assert torch.equal(extractor.map_roi_levels(ext, 4), levels)
    assert set(levels.tolist()) == {0, 1, 2, 3}
    # float32 rounding of sample coordinates of RoIs up to 600 px
    assert torch.allclose(ours, theirs, atol=1e-4)
    assert ours.abs().sum() > 0


def test_plain_extractor_samples_other_points():
    """The check above can fail: without extend_factor both the level of
    many RoIs and every sampled region differ."""
    feats, rois = random_case()
    plain = released_extractor(type='RotatedSingleRoIExtractor',
                               out_channels=8)
    plain_levels = plain.map_roi_levels(rois, 4)
    theirs, levels = extract(feats, rois * torch.tensor([1., 1, 1, 1, 1, -1]),
                             STRIDES)
    assert (plain_levels != levels).sum() > 30
    with torch.no_grad():
        assert (plain(feats, rois) - theirs).abs().amax((1, 2, 3)).min() > 0


def test_one_level_samples_rois_unchanged():
    """OBBDetection returns before extending when there is one level."""
    feats, rois = random_case(n=20)
    one = released_extractor(out_channels=8, featmap_strides=[4])
    plain = released_extractor(type='RotatedSingleRoIExtractor',
                               out_channels=8, featmap_strides=[4])
    with torch.no_grad():
        assert torch.equal(one(feats[:1], rois), plain(feats[:1], rois))


@pytest.mark.parametrize('factor', [0, -1.0, (1.0, 0.0)])
def test_rejects_bad_factor(factor):
    with pytest.raises(ValueError, match='extend_factor'):
        released_extractor(extend_factor=factor)
