"""MultiDatasetTwoStageDetector on the bundled DOTA patches and DIOR-R image
with a tiny MoE ViT (4 layers x 64 dims, experts of 16 channels)."""
import copy

import pytest
import torch
from mmengine.optim import OptimWrapper
from mmrotate.registry import MODELS

from mdf_det_common import SIZE, batch, tiny_model_cfg

LOSS_KEYS = {'loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'loss_bbox', 'acc'}


def _prepare(model, samples, training=True):
    return model.data_preprocessor(batch(samples), training)


def _loss(model, samples):
    data = _prepare(model, samples)
    losses = model.loss(data['inputs'], data['data_samples'])
    total, log_vars = model.parse_losses(losses)
    return losses, total, log_vars


def _predict(model, samples, rescale=True):
    data = _prepare(model, copy.deepcopy(samples), False)
    with torch.no_grad():
        return model.predict(data['inputs'], data['data_samples'], rescale)


def _expert_params(model, dataset_id):
    tag = f'experts.{dataset_id}.'
    params = [p for n, p in model.backbone.named_parameters() if tag in n]
    assert params, 'the MoE backbone has no experts.<id> parameters'
    return params


def _grads_zero(params):
    return all(p.grad is None or not p.grad.any() for p in params)


def test_mixed_batch_losses_are_prefixed_and_finite(tiny_moe_model,
                                                    train_sets):
    model = tiny_moe_model
    assert type(model.backbone).__name__ == 'MoEViT'
    samples = [train_sets['dota'][0], train_sets['dior'][0]]
    losses, total, log_vars = _loss(model, samples)
    prefixes = {k.split('/')[0] for k in losses}
    assert prefixes == set(model.dataset_names) == {'dior', 'dota'}
    for name in model.dataset_names:
        keys = {k.split('/', 1)[1] for k in losses if k.startswith(name)}
        assert keys == LOSS_KEYS
    assert torch.isfinite(total) and total > 0
    for key, value in log_vars.items():
        assert torch.isfinite(torch.as_tensor(value)), key
    # RPN + RoI classification losses of both datasets are really there
    assert log_vars['dior/loss_cls'] > 0 and log_vars['dota/loss_cls'] > 0


def test_dota_only_batch_leaves_dior_head_and_expert_untouched(
        tiny_moe_model, train_sets):
    model = tiny_moe_model
    samples = [train_sets['dota'][0], train_sets['dota'][1]]
    losses, total, _ = _loss(model, samples)
    assert losses['dior/loss_absent'].item() == 0.0
    assert not any(k.startswith('dior/') and k != 'dior/loss_absent'
                   for k in losses)
    total.backward()
    dior, dota = model.dataset_names.index('dior'), model.dataset_names.index(
        'dota')
    # every parameter takes part (DDP graph whole) ...
    unused = [n for n, p in model.named_parameters() if p.grad is None]
    assert unused == []
    # ... but DIOR's branch and expert get exactly zero gradient
    assert _grads_zero(model.branches['dior'].parameters())
    assert _grads_zero(_expert_params(model, dior))
    assert not _grads_zero(model.branches['dota'].parameters())
    assert not _grads_zero(_expert_params(model, dota))
    assert model.backbone.patch_embed.projection.weight.grad.abs().sum() > 0


def test_empty_label_patch_trains_on_negatives(tiny_moe_model, train_sets):
    model = tiny_moe_model
    dota = train_sets['dota']
    empty = [i for i in range(len(dota))
             if len(dota.get_data_info(i)['instances']) == 0]
    assert len(empty) == 1  # P1088__1__1024___768 has no objects
    sample = dota[empty[0]]
    assert len(sample['data_samples'].gt_instances) == 0
    losses, total, log_vars = _loss(model, [sample])
    assert torch.isfinite(total)
    assert log_vars['dota/loss_rpn_cls'] > 0  # negatives are classified
    assert log_vars['dota/loss_cls'] > 0
    assert log_vars['dota/loss_rpn_bbox'] == 0  # nothing to regress
    assert log_vars['dota/loss_bbox'] == 0
    total.backward()


def test_train_steps_lower_the_loss(tiny_moe_model, train_sets):
    model = tiny_moe_model
    model.train()
    samples = batch([train_sets['dota'][0], train_sets['dior'][0]])
    wrapper = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=1e-3))
    first = model.train_step(samples, wrapper)
    for _ in range(5):
        last = model.train_step(samples, wrapper)
    for key in ('dior/loss_cls', 'dota/loss_cls', 'loss'):
        assert torch.isfinite(last[key])
    assert last['loss'] < first['loss'] * 0.8, (first['loss'], last['loss'])


def _predict_cfg(moe_cfg):
    cfg = tiny_model_cfg(moe_cfg)
    cfg.test_cfg.rcnn.score_thr = 0.0  # an untrained model: keep everything
    return cfg


def test_predict_boxes_in_original_frame(moe_cfg, test_sets):
    torch.manual_seed(0)
    model = MODELS.build(_predict_cfg(moe_cfg)).eval()
    sample = test_sets['dior'][0]
    ori_h, ori_w = sample['data_samples'].ori_shape
    assert (ori_h, ori_w) == (800, 800)
    assert sample['inputs'].shape[-2:] == (SIZE, SIZE)
    # pos embed sized for 64 px (4 x 4 patches + cls), resized for 128 px
    assert model.backbone.pos_embed.shape[1] == (SIZE // 2 // 16)**2 + 1
    scaled = _predict(model, [sample], rescale=True)[0]
    raw = _predict(model, [sample], rescale=False)[0]
    boxes, raw_boxes = scaled.pred_instances.bboxes, raw.pred_instances.bboxes
    # (cx, cy, w, h, angle) rows
    assert boxes.dim() == 2 and boxes.shape[1] == 5 and len(boxes) > 0
    labels = scaled.pred_instances.labels
    assert labels.max() < 20
    factor = ori_w / SIZE
    torch.testing.assert_close(boxes[:, :4], raw_boxes[:, :4] * factor)
    torch.testing.assert_close(boxes[:, 4], raw_boxes[:, 4])
    # centres spread over the 800 px image, not the 128 px input
    assert boxes[:, :2].max() > SIZE


def test_mixed_batch_predicts_like_single_dataset_batches(moe_cfg,
                                                           test_sets):
    torch.manual_seed(0)
    model = MODELS.build(_predict_cfg(moe_cfg)).eval()
    dior, dota = test_sets['dior'][0], test_sets['dota'][0]

    def run(samples):
        out = _predict(model, samples)
        return [(s.metainfo['dataset_name'], s.pred_instances) for s in out]

    mixed = run([dota, dior])
    alone = run([dota]) + run([dior])
    assert [m[0] for m in mixed] == ['dota', 'dior']
    for (_, a), (_, b) in zip(mixed, alone):
        assert len(a) == len(b) > 0
        torch.testing.assert_close(a.scores, b.scores, atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(a.bboxes, b.bboxes,
                                   atol=1e-3, rtol=1e-4)
    assert mixed[0][1].labels.max() < 18  # DOTA-v2 head: 18 classes
    data = _prepare(model, [copy.deepcopy(dota), copy.deepcopy(dior)], False)
    outs = model(**data, mode='tensor')
    assert set(outs) == {'dior', 'dota'}
    cls_dota, cls_dior = outs['dota'][-1][0], outs['dior'][-1][0]
    assert cls_dota.shape[-1] == 18 + 1 and cls_dior.shape[-1] == 20 + 1


def test_unknown_dataset_name_is_a_clear_error(tiny_moe_model, train_sets):
    sample = copy.deepcopy(train_sets['dota'][0])
    sample['data_samples'].set_metainfo({'dataset_name': 'xview'})
    with pytest.raises(ValueError, match="unknown dataset 'xview'.*dior"):
        _loss(tiny_moe_model, [sample])


def test_config_errors(moe_cfg):
    cfg = tiny_model_cfg(moe_cfg)
    bad = copy.deepcopy(cfg)
    bad.num_classes = [20]
    with pytest.raises(ValueError, match='num_classes has 1 entries'):
        MODELS.build(bad)
    bad = copy.deepcopy(cfg)
    bad.backbone.dataset_names = ['dota', 'dior']
    with pytest.raises(ValueError, match='backbone dataset_names'):
        MODELS.build(bad)
    bad = copy.deepcopy(cfg)
    bad.roi_head = [cfg.roi_head] * 3
    with pytest.raises(ValueError, match='roi_head is a list of 3'):
        MODELS.build(bad)


def test_single_dataset_config_with_plain_vit(repo_root, moe_cfg,
                                              train_sets):
    """The SDF config: the same detector with one dataset and mmseg's plain
    VisionTransformer (no dataset_ids passed)."""
    import os.path as osp

    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(
        repo_root, 'configs/mdf_det/sdf_vit-b_oriented-rcnn-le90_8xb2-12e_'
        'dior-r-1024x1024.py'))
    torch.manual_seed(0)
    model = MODELS.build(tiny_model_cfg(cfg))
    assert type(model.backbone).__name__ == 'VisionTransformer'
    assert list(model.branches) == ['dior']
    losses, total, _ = _loss(model, [train_sets['dior'][0]])
    assert {k.split('/')[0] for k in losses} == {'dior'}
    assert torch.isfinite(total) and total > 0
    with pytest.raises(ValueError, match="unknown dataset 'dota'"):
        _loss(model, [train_sets['dota'][0]])


def test_branches_are_plain_two_stage_detectors(tiny_moe_model):
    """A branch is mmdet's TwoStageDetector with an identity backbone: its
    own neck (FPN) sits in ``neck``, checkpoint keys are
    ``branches.<name>.{neck,rpn_head,roi_head}.*``."""
    from mmdet.models.detectors import TwoStageDetector
    from mmdet.models.necks import FPN
    model = tiny_moe_model
    for name, branch in model.branches.items():
        assert isinstance(branch, TwoStageDetector)
        assert isinstance(branch.backbone, torch.nn.Identity)
        assert isinstance(branch.neck, FPN) and branch.with_rpn
    parts = {k.split('.')[2] for k in model.state_dict()
             if k.startswith('branches.')}
    assert parts == {'neck', 'rpn_head', 'roi_head'}
    feats = tuple(torch.randn(1, 64, 8 * 2**i, 8 * 2**i) for i in range(4))
    branch = model.branches['dota']
    with torch.no_grad():
        want = branch.neck(feats)
        got = branch.extract_feat(feats)
    assert len(got) == len(want)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b)
