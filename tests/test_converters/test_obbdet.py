"""The S5 authors' released detector (OBBDetection fork) -> s5_mm, checked
against tests/utils/obbdet_reference.py (OBBDetection's maths written from
their source) on a checkpoint with their key names: strict loading into the
released config's model, box decoding (RPN and RoI head) as polygons, class
rows by name, the backbone forward, and the named refusals."""
import math

import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmrotate.registry import MODELS
from mmrotate.structures.bbox import rbox2qbox

from mdf_det_meta import parameters_on_meta
from obbdet_reference import (CLASSES, authors_state, bbox_head, obb2poly,
                              poly_distance, rpn_proposals)
from reference_vit import s5_vit
from s5mm_tiny_configs import shipped, tiny_config
from s5_mm.converters.obbdet import (class_permutation, convert_obbdet,
                                     is_obbdet)
from s5_mm.converters.report import (ConversionError, KindMismatchError,
                                     MissingKeyError, ShapeMismatchError,
                                     UnknownKeyError)
from script_runner import run_script
from s5_mm.utils import load_state_dict_strict

CONFIG = ('s5-released_moe-mdf_vit-b_oriented-rcnn-le90_dior-r-dota2-'
          '1024x1024.py')
TASKS = ('dior', 'dota')


def mmrotate_classes():
    from mmrotate.datasets import DIORDataset, DOTAv2Dataset
    return {'dior': DIORDataset.METAINFO['classes'],
            'dota': DOTAv2Dataset.METAINFO['classes']}


@pytest.fixture(scope='module')
def converted():
    """Tiny released model (embed 32, 4 layers, 64 px, FPN 16, FC 32) with
    the converted weights of a float16 checkpoint in the authors' layout."""
    init_default_scope('mmrotate')
    source = authors_state()
    state, dropped = convert_obbdet(source)
    model = MODELS.build(tiny_config(CONFIG).model).eval()
    load_state_dict_strict(model, state, source='converted')
    return source, state, dropped, model


def test_every_key_converted_and_loads_strictly(converted):
    source, state, dropped, model = converted
    assert dropped == {}
    assert len(state) == len(source) == len(model.state_dict())
    assert all(v.dtype == torch.float32 for v in state.values())
    assert all(s.dtype == torch.float16 for s in source.values())
    # pos_embed gets the (unused) cls slot mmseg's ViT expects
    pos = state['backbone.pos_embed']
    assert pos.shape == (1, 17, 32) and not pos[0, 0].any()
    assert torch.equal(pos[:, 1:], source['backbone.pos_embed'].float())
    assert torch.equal(state['neck.upsample_4x.1.weight'],
                       source['backbone.fpn1.1.ln.weight'].float())
    assert torch.equal(
        state['branches.dota.rpn_head.rpn_reg.weight'],
        source['rpn_head_dota.rpn_reg.weight'].float())


def test_real_vit_b_and_vit_l_key_and_shape_sets():
    """Their full-size ViT-B / ViT-L checkpoints (meta tensors) convert to
    exactly the keys and shapes of the released configs' models."""
    init_default_scope('mmrotate')
    for size, dims, layers in (('b', 768, 12), ('l', 1024, 24)):
        source = authors_state(dims=dims, layers=layers, hidden=4 * dims,
                               part=256, grid=64, fpn=256, fc=1024,
                               device='meta')
        state, dropped = convert_obbdet(source)
        cfg = Config.fromfile(shipped(CONFIG.replace('vit-b', f'vit-{size}')))
        with parameters_on_meta():
            model = MODELS.build(cfg.model)
        expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
        assert {k: tuple(v.shape) for k, v in state.items()} == expected
        assert dropped == {}
        assert expected['backbone.pos_embed'] == (1, 64 * 64 + 1, dims)


def test_class_rows_land_on_the_same_names(converted):
    source, state, _, _ = converted
    targets = mmrotate_classes()
    assert class_permutation(CLASSES['dior'], targets['dior'], 'dior') == \
        list(range(21))  # DIOR-R: the same order in both
    assert CLASSES['dota'][:2] == ('large-vehicle', 'swimming-pool')
    for task in TASKS:
        old = source[f'roi_head_{task}.bbox_head.fc_cls.weight'].float()
        new = state[f'branches.{task}.roi_head.bbox_head.fc_cls.weight']
        bias_old = source[f'roi_head_{task}.bbox_head.fc_cls.bias'].float()
        bias_new = state[f'branches.{task}.roi_head.bbox_head.fc_cls.bias']
        for i, name in enumerate(CLASSES[task]):
            j = targets[task].index(name)
            assert torch.equal(new[j], old[i]) and bias_new[j] == bias_old[i]
        assert torch.equal(new[-1], old[-1])  # background last


@pytest.mark.parametrize('task', TASKS)
def test_roi_head_decodes_their_boxes(converted, task):
    """Random RoIs and RoI features: the converted box head's boxes (our
    coder from the config) equal OBBDetection's as polygons, and every
    source class's score is on the mmrotate class of the same name."""
    source, _, _, model = converted
    head = model.branches[task].roi_head.bbox_head
    gen = torch.Generator().manual_seed(1)
    n = 400
    feats = torch.randn(n, 16, 7, 7, generator=gen)
    xy = 200 + 600 * torch.rand(n, 2, generator=gen)
    wh = 4 + 300 * torch.rand(n, 2, generator=gen)
    theta = (torch.rand(n, 1, generator=gen) - 0.5) * math.pi  # mmrotate
    rois = torch.cat([torch.zeros(n, 1), xy, wh, theta], 1)
    with torch.no_grad():
        cls_score, bbox_pred = head(feats)
        ours = head.predict_by_feat(
            (rois, ), (cls_score, ), (bbox_pred, ),
            [dict(img_shape=(1024, 1024))], rcnn_test_cfg=None)[0]
        their_rois = torch.cat([xy, wh, -theta], 1)  # OBBDetection angles
        boxes, scores = bbox_head(source, f'roi_head_{task}.bbox_head.',
                                  feats, their_rois)
    err = poly_distance(rbox2qbox(ours.bboxes), obb2poly(boxes))
    assert err.max() < 1e-3
    target = mmrotate_classes()[task]
    for i, name in enumerate(CLASSES[task]):
        assert torch.allclose(ours.scores[:, target.index(name)],
                              scores[:, i], atol=1e-6)


def test_without_theta_negation_the_boxes_differ(converted):
    """The check above can fail: with the source fc_reg as it is (theta row
    not negated) the polygons are far apart."""
    source, _, _, model = converted
    head = model.branches['dota'].roi_head.bbox_head
    gen = torch.Generator().manual_seed(2)
    feats = torch.randn(50, 16, 7, 7, generator=gen)
    rois = torch.tensor([[0., 500., 500., 200., 60., 0.3]]).repeat(50, 1)
    with torch.no_grad():
        head.fc_reg.weight[4].neg_()
        head.fc_reg.bias[4].neg_()
        try:
            cls_score, bbox_pred = head(feats)
        finally:
            head.fc_reg.weight[4].neg_()
            head.fc_reg.bias[4].neg_()
        ours = head.predict_by_feat((rois, ), (cls_score, ), (bbox_pred, ),
                                    [dict(img_shape=(1024, 1024))], None)[0]
        boxes, _ = bbox_head(source, 'roi_head_dota.bbox_head.', feats,
                             rois[:, 1:] * torch.tensor([1, 1, 1, 1, -1]))
    assert poly_distance(rbox2qbox(ours.bboxes),
                         obb2poly(boxes)).max() > 1.0


def rpn_outputs(source, model, task, scale, seed=3):
    """Random FPN features of a 256 px image through the converted RPN head
    (ours: InstanceData of proposals) and through OBBDetection's RPN maths
    on their weights (theirs: boxes, scores, midpoint offsets). The
    regression is scaled by ``scale`` (random weights give large deltas)."""
    rpn = model.branches[task].rpn_head
    gen = torch.Generator().manual_seed(seed)
    strides = (4, 8, 16, 32, 64)
    feats = tuple(torch.randn(1, 16, 256 // s, 256 // s, generator=gen)
                  for s in strides)
    meta = dict(img_shape=(256, 256), scale_factor=(1., 1.))
    w = {k[len(f'rpn_head_{task}.'):]: v.float()
         for k, v in source.items() if k.startswith(f'rpn_head_{task}.')}
    conv = torch.nn.functional.conv2d
    with torch.no_grad():
        cls_scores, bbox_preds = rpn(feats)
        ours = rpn.predict_by_feat(cls_scores,
                                   [p * scale for p in bbox_preds],
                                   batch_img_metas=[meta], rescale=False)[0]
        their_cls, their_reg = [], []
        for f in feats:
            h = torch.relu(conv(f, w['rpn_conv.weight'], w['rpn_conv.bias'],
                                padding=1))
            their_cls.append(
                conv(h, w['rpn_cls.weight'], w['rpn_cls.bias'])[0])
            their_reg.append(
                conv(h, w['rpn_reg.weight'], w['rpn_reg.bias'])[0] * scale)
        theirs = rpn_proposals(their_cls, their_reg, strides)
    return ours, theirs


def matched_distance(ours_poly, our_scores, their_poly, their_scores):
    """Polygon distance of proposals in score order; boxes of exactly equal
    score (whose order is arbitrary) are matched among themselves."""
    err = poly_distance(ours_poly, their_poly)
    for i in torch.nonzero(err > 1e-3).flatten().tolist():
        ties = torch.nonzero(their_scores == our_scores[i]).flatten()
        err[i] = poly_distance(ours_poly[i:i + 1].expand(len(ties), 8),
                               their_poly[ties]).min()
    return err


def collapsed(offsets):
    """Midpoint offsets (da, db) clamped at +-0.5 with opposite signs: two
    corners of the decoded polygon coincide."""
    return (offsets.abs() >= 0.5).all(1) & (offsets.prod(1) < 0)


@pytest.mark.parametrize('task', TASKS)
def test_rpn_proposals_equal_theirs(converted, task):
    """The converted RPN head's proposals (anchors, MidpointOffsetCoder,
    per-level NMS 0.8, 2000 kept) equal OBBDetection's as polygons, with
    the same scores, where the polygon does not collapse (next test)."""
    source, _, _, model = converted
    ours, (boxes, scores, offsets) = rpn_outputs(source, model, task, 0.25)
    assert len(ours) == len(boxes) == 2000
    assert not collapsed(offsets).any()
    assert torch.equal(ours.scores, scores)
    err = matched_distance(rbox2qbox(ours.bboxes.tensor), ours.scores,
                           obb2poly(boxes), scores)
    assert err.max() < 1e-3
    assert (boxes[:, 4].abs() > 0.1).sum() > 1000  # rotated boxes compared


def test_rpn_degenerate_proposals_differ_as_documented(converted):
    """Known difference (README_det.md): midpoint offsets clamped at +-0.5
    with opposite signs collapse the polygon onto a diagonal; mmrotate's
    cv2.minAreaRect makes it a zero-height box along the diagonal;
    OBBDetection's atan2 takes the angle of the rounding error between the
    two coinciding corners (the horizontal box, or any box). Other boxes
    agree within 1e-3 px unless they are slivers (w / h >= 20) or over
    1000 px long, where cv2.minAreaRect's float32 arithmetic (and their
    pi = 3.141592) give up to ~0.5 px."""
    source, _, _, model = converted
    ours, (boxes, scores, offsets) = rpn_outputs(source, model, 'dota', 1.0)
    assert torch.equal(ours.scores, scores)
    err = matched_distance(rbox2qbox(ours.bboxes.tensor), ours.scores,
                           obb2poly(boxes), scores)
    lines = collapsed(offsets)
    assert lines.sum() > 10
    w, h = boxes[:, 2], boxes[:, 3]
    assert (err[~lines & (w < 1000) & (w < 20 * h)] < 1e-3).all()
    assert (err[~lines] < 0.5).all()
    assert (err[lines] > 1).sum() > 10  # the same unless the box is a line
    assert (ours.bboxes.tensor[lines, 3] < 1e-3).all()  # zero height


@pytest.mark.parametrize('task, expert', [('dior', 0), ('dota', 1)])
def test_backbone_features_equal_their_forward(converted, task, expert):
    """Shared features (MoE ViT with its expert + the LN neck) equal the
    authors' forward (reference_vit.s5_vit, LayerNorm eps 1e-5 as in their
    detection ViT) on the same float16 weights."""
    source, _, _, model = converted
    img = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(4))
    backbone = {k[len('backbone.'):]: v.float() for k, v in source.items()
                if k.startswith('backbone.')}
    with torch.no_grad():
        ours = model.extract_feat(img, torch.tensor([expert, expert]))
        theirs = s5_vit(backbone, img, heads=2, patch=16, task=expert,
                        out_indices=(0, 1, 2, 3), eps=1e-5)
    for a, b in zip(ours, theirs):
        assert a.shape == b.shape
        assert torch.allclose(a, b, atol=1e-4, rtol=1e-4)


def test_predict_runs_for_both_datasets(converted):
    _, _, _, model = converted
    samples = []
    for name in TASKS:
        s = DetDataSample(metainfo=dict(
            img_shape=(64, 64), ori_shape=(64, 64), scale_factor=(1., 1.),
            pad_shape=(64, 64), batch_input_shape=(64, 64),
            dataset_name=name))
        samples.append(s)
    with torch.no_grad():
        out = model.predict(torch.randn(2, 3, 64, 64), samples)
    assert [len(o.pred_instances.scores) >= 0 for o in out] == [True, True]
    assert out[1].pred_instances.labels.max() < 18


# ----------------------------------------------------------- refusals
def test_refuses_missing_key():
    state = authors_state()
    del state['backbone.layers.2.ffn.experts.1.bias']
    with pytest.raises(MissingKeyError,
                       match=r'layers\.2\.ffn\.experts\.1\.bias'):
        convert_obbdet(state)


def test_refuses_unknown_key():
    state = authors_state()
    state['roi_head_dota.bbox_head.fc_extra.weight'] = torch.zeros(3)
    with pytest.raises(UnknownKeyError, match='fc_extra'):
        convert_obbdet(state)


def test_refuses_wrong_shape():
    state = authors_state()
    state['backbone.layers.1.ffn.experts.0.weight'] = torch.zeros(9, 128)
    with pytest.raises(ShapeMismatchError,
                       match=r'layers\.1\.ffn\.experts\.0\.weight'):
        convert_obbdet(state)
    state = authors_state()  # 19 DOTA classes + background: not DOTA-v2
    state['roi_head_dota.bbox_head.fc_cls.weight'] = torch.zeros(20, 32)
    state['roi_head_dota.bbox_head.fc_cls.bias'] = torch.zeros(20)
    with pytest.raises(ShapeMismatchError, match='fc_cls.weight'):
        convert_obbdet(state)


def test_refuses_a_segmentation_checkpoint():
    seg = {'encoder.patch_embed.projection.weight': torch.zeros(8, 3, 16, 16),
           'semsegdecoder_vaihingen.decode_head.conv_seg.weight':
           torch.zeros(6, 8, 1, 1)}
    assert not is_obbdet(seg) and is_obbdet(authors_state())
    with pytest.raises(KindMismatchError, match='segmentation'):
        convert_obbdet(seg)
    other = dict(CLASSES, dota=CLASSES['dota'][:-1] + ('ship-yard', ))
    with pytest.raises(ConversionError, match="only in target: .'helipad'"):
        convert_obbdet(authors_state(), source_classes=other)


def test_left_out_task_is_dropped_with_its_expert():
    state = authors_state()
    out, dropped = convert_obbdet(state, dataset_names=('dota', ))
    assert set(dropped) == {k for k in state
                            if k.startswith(('neck_dior', 'rpn_head_dior',
                                             'roi_head_dior'))
                            or '.experts.0.' in k}
    assert all("'dior'" in reason for reason in dropped.values())
    # their expert 1 (DOTA) is the only expert, 0, of the converted model
    assert torch.equal(out['backbone.layers.3.ffn.experts.0.weight'],
                       state['backbone.layers.3.ffn.experts.1.weight'].float())
    assert not any('experts.1' in k or 'dior' in k for k in out)


# ------------------------------------------------------------- the CLI
def test_cli_converts_and_checks_the_config(tmp_path, repo_root):
    """s5_to_s5mm.py on a file as their mmdet 2.x saves it ({'meta',
    'state_dict', 'optimizer'}): kind det-moe-mdf detected, the summary
    printed, the output loads strictly into the (tiny) released config."""
    src, dst = tmp_path / 'det.pth', tmp_path / 'out' / 'det_s5mm.pth'
    state = authors_state()
    torch.save({'meta': {'mmdet_version': '2.2.0', 'epoch': 12},
                'state_dict': state,
                'optimizer': {'state': {}, 'param_groups': []}}, src)
    cfg = tmp_path / 'tiny_released.py'
    tiny_config(CONFIG).dump(str(cfg))
    proc = run_script(['tools/model_converters/s5_to_s5mm.py', str(src),
                       str(dst), '--check-config', str(cfg)], cwd=repo_root)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'det-moe-mdf' in proc.stdout
    out = torch.load(dst)
    assert out['meta']['kind'] == 'det-moe-mdf'
    expected, _ = convert_obbdet(state)
    assert out['state_dict'].keys() == expected.keys()
    assert all(torch.equal(out['state_dict'][k], v)
               for k, v in expected.items())


def test_cli_names_the_key_of_a_broken_checkpoint(tmp_path, repo_root):
    src = tmp_path / 'det.pth'
    state = authors_state()
    state['rpn_head_dota.rpn_reg.weight'] = torch.zeros(17, 16, 1, 1)
    torch.save({'state_dict': state}, src)
    proc = run_script(['tools/model_converters/s5_to_s5mm.py', str(src),
                       str(tmp_path / 'out.pth'), '--kind', 'det-moe-mdf'],
                      cwd=repo_root)
    assert proc.returncode != 0
    assert 'ShapeMismatchError' in proc.stderr
    assert 'rpn_head_dota.rpn_reg.weight' in proc.stderr
    assert not (tmp_path / 'out.pth').exists()
