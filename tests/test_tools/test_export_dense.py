"""export_dense: the exported model, run by plain mmseg / mmrotate WITHOUT
s5_mm in a separate process, predicts what the s5_mm MoE model predicts for
a dataset."""
import importlib.util
import os.path as osp
import subprocess
import sys

import pytest
import torch
from export_dense import dense_ffn_state, export, export_model
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import save_checkpoint
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

import s5_mm  # noqa: F401

NAMES = ['vaihingen', 'potsdam', 'loveda']
CLASSES = dict(vaihingen=6, potsdam=6, loveda=7)
PLAIN_MMSEG = """
import sys, torch
from mmseg.apis import init_model
cfg, ckpt, inputs, out = sys.argv[1:]
model = init_model(cfg, ckpt, device='cpu')
assert not [m for m in sys.modules if m.split('.')[0] == 's5_mm'], 's5_mm'
with torch.no_grad():
    samples = model.predict(torch.load(inputs))
torch.save(torch.stack([s.seg_logits.data for s in samples]), out)
"""


def tiny_cfg(multi_head: bool) -> Config:
    """The shipped ViT-B UperNet config shrunk, as an s5_mm MoE model."""
    cfg = Config.fromfile('configs/_base_/models/upernet_vit-b16.py')
    bn = dict(type='BN', requires_grad=True)
    cfg.model.data_preprocessor.size = (64, 64)
    cfg.model.backbone.update(
        type='MoEViT', dataset_names=NAMES, expert_channels=16,
        img_size=(64, 64), embed_dims=64, num_layers=4, num_heads=4,
        out_indices=(0, 1, 2, 3), drop_path_rate=0.0)
    cfg.model.neck = dict(type='Feature2PyramidLN', embed_dim=64)
    cfg.model.decode_head.update(in_channels=[64] * 4, channels=16,
                                 norm_cfg=bn)
    if multi_head:
        head = cfg.model.pop('decode_head')
        cfg.model.update(
            type='MultiDatasetEncoderDecoder',
            decode_heads={n: dict(head, num_classes=c)
                          for n, c in CLASSES.items()},
            auxiliary_heads=dict(potsdam=dict(
                type='FCNHead', in_channels=64, in_index=2, channels=8,
                num_convs=1, num_classes=6, norm_cfg=bn)))
    cfg.default_scope = 'mmseg'
    cfg.custom_imports = dict(imports=['s5_mm'], allow_failed_imports=False)
    cfg.test_pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='PackSegInputs'),
        dict(type='SetDatasetName', name='potsdam'),
    ]
    return cfg


def build_trained_like(cfg: Config):
    """The model with random, dataset-specific weights everywhere."""
    init_default_scope('mmseg')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    with torch.no_grad():
        for name, param in model.named_parameters():
            param.add_(torch.randn_like(param) * 0.02)
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    model.eval()
    return model


def run_plain_mmseg(tmp_path, cfg_path, ckpt_path, inputs, repo_root):
    torch.save(inputs, tmp_path / 'inputs.pth')
    subprocess.run([
        sys.executable, '-c', PLAIN_MMSEG, cfg_path, ckpt_path,
        str(tmp_path / 'inputs.pth'), str(tmp_path / 'logits.pth')
    ], check=True, cwd=repo_root)
    return torch.load(tmp_path / 'logits.pth')


def metas(batch, name=None):
    info = dict(img_shape=(64, 64), ori_shape=(64, 64), pad_shape=(64, 64),
                padding_size=[0, 0, 0, 0])
    if name:
        info['dataset_name'] = name
    return [SegDataSample(metainfo=info) for _ in range(batch)]


def save_s5mm(tmp_path, cfg, model):
    cfg_path, ckpt_path = tmp_path / 's5mm.py', tmp_path / 's5mm.pth'
    cfg.dump(str(cfg_path))
    save_checkpoint({'state_dict': model.state_dict(), 'meta': {}},
                    str(ckpt_path))
    return str(cfg_path), str(ckpt_path)


def test_single_head_export_predicts_like_moe(tmp_path, repo_root):
    cfg = tiny_cfg(multi_head=False)
    model = build_trained_like(cfg)
    inputs = torch.randn(2, 3, 64, 64)
    k = NAMES.index('potsdam')
    with torch.no_grad():
        feats = model.neck(model.backbone(inputs, k))
        ref = model.decode_head.predict(feats, [m.metainfo for m in metas(2)],
                                        model.test_cfg)
        other = model.decode_head.predict(
            model.neck(model.backbone(inputs, 0)),
            [m.metainfo for m in metas(2)], model.test_cfg)
    assert (ref - other).abs().max() > 1e-3  # experts differ
    cfg_path, ckpt_path = export(*save_s5mm(tmp_path, cfg, model), 'potsdam',
                                 str(tmp_path / 'out'))
    exported = Config.fromfile(cfg_path)
    assert exported.model.backbone.type == 'VisionTransformer'
    assert 'custom_imports' not in exported
    assert [t['type'] for t in exported.test_pipeline] == [
        'LoadImageFromFile', 'PackSegInputs']
    logits = run_plain_mmseg(tmp_path, cfg_path, ckpt_path, inputs, repo_root)
    assert (logits - ref).abs().max() <= 1e-5


def test_multi_head_export_predicts_like_moe(tmp_path, repo_root):
    cfg = tiny_cfg(multi_head=True)
    model = build_trained_like(cfg)
    inputs = torch.randn(3, 3, 64, 64)
    with torch.no_grad():
        ref = model.predict(inputs, metas(3, 'loveda'))
    ref = torch.stack([s.seg_logits.data for s in ref])
    assert ref.shape[1] == CLASSES['loveda']
    cfg_path, ckpt_path = export(*save_s5mm(tmp_path, cfg, model), 'loveda',
                                 str(tmp_path / 'out'))
    state = torch.load(ckpt_path)['state_dict']
    assert not [k for k in state if 'experts' in k or 'decode_heads' in k]
    assert not [k for k in state if k.startswith('auxiliary_head')]
    logits = run_plain_mmseg(tmp_path, cfg_path, ckpt_path, inputs, repo_root)
    assert (logits - ref).abs().max() <= 1e-5

    # a dataset with an auxiliary head keeps it
    mdl, sd = export_model(cfg.model.to_dict(), model.state_dict(), 'potsdam')
    assert mdl['auxiliary_head']['num_classes'] == 6
    assert torch.equal(sd['auxiliary_head.conv_seg.weight'],
                       model.auxiliary_heads['potsdam'].conv_seg.weight)


def test_dense_ffn_state_concatenates_shared_and_expert():
    shared, experts = torch.randn(12, 8), [torch.randn(4, 8) for _ in range(3)]
    state = {'layers.0.ffn.layers.0.0.weight': torch.randn(8, 16),
             'layers.0.ffn.layers.1.weight': shared}
    state.update({f'layers.0.ffn.experts.{k}.weight': w
                  for k, w in enumerate(experts)})
    dense = dense_ffn_state(state, 2)
    assert torch.equal(dense['layers.0.ffn.layers.1.weight'],
                       torch.cat([shared, experts[2]]))
    assert list(dense) == list(state)[:2]
    with pytest.raises(KeyError, match='experts.5'):
        dense_ffn_state(state, 5)
    with pytest.raises(ValueError, match='already dense'):
        dense_ffn_state({'layers.0.ffn.layers.1.weight': shared}, 0)


def test_unknown_dataset_is_refused():
    cfg = tiny_cfg(multi_head=False)
    with pytest.raises(ValueError, match=r"unknown dataset 'isaid'.*loveda"):
        export_model(cfg.model.to_dict(), {}, 'isaid')


# ------------------------------------------------------------ detection
PLAIN_MMROTATE = """
import sys, torch
import mmrotate.models  # noqa: F401  (plain mmrotate, no s5_mm)
from mmdet.apis import init_detector
from mmdet.structures import DetDataSample
cfg, ckpt, data, out = sys.argv[1:]
model = init_detector(cfg, ckpt, device='cpu')
assert not [m for m in sys.modules if m.split('.')[0] == 's5_mm'], 's5_mm'
data = torch.load(data)
samples = [DetDataSample(metainfo=m) for m in data['metas']]
with torch.no_grad():
    results = model.predict(data['inputs'], samples)
torch.save([dict(bboxes=getattr(r.pred_instances.bboxes, 'tensor',
                                r.pred_instances.bboxes),
                 scores=r.pred_instances.scores,
                 labels=r.pred_instances.labels) for r in results], out)
"""


def det_fixtures(repo_root):
    """The detection tests' helpers (tiny config shrunk from the shipped
    MoE-MDF detection config), loaded under a name of their own."""
    spec = importlib.util.spec_from_file_location(
        'mdf_det_fixtures', osp.join(repo_root, 'tests', 'utils',
                                     'mdf_det_common.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_detector_export_predicts_like_moe(tmp_path, repo_root):
    fixtures = det_fixtures(repo_root)
    cfg = Config.fromfile(fixtures.MOE_CFG)
    cfg.model = fixtures.tiny_model_cfg(cfg)
    cfg.model.test_cfg.rcnn.score_thr = 0.0  # keep boxes of a random net
    init_default_scope('mmrotate')
    from mmrotate.registry import MODELS as ROTATE_MODELS
    torch.manual_seed(0)
    model = ROTATE_MODELS.build(cfg.model)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn_like(param) * 0.02)
    model.eval()
    size = fixtures.SIZE
    meta = dict(img_shape=(size, size), ori_shape=(size, size),
                pad_shape=(size, size), batch_input_shape=(size, size),
                scale_factor=(1.0, 1.0))
    inputs = torch.randn(2, 3, size, size)
    from mmdet.structures import DetDataSample
    samples = [DetDataSample(metainfo=dict(meta, dataset_name='dota'))
               for _ in range(2)]
    with torch.no_grad():
        ref = model.predict(inputs, samples)
    assert all(len(r.pred_instances) > 0 for r in ref)

    cfg_path, ckpt_path = export(*save_s5mm(tmp_path, cfg, model), 'dota',
                                 str(tmp_path / 'out'))
    exported = Config.fromfile(cfg_path)
    assert exported.model.type == 'mmdet.TwoStageDetector'
    assert exported.model.backbone.type == 'mmseg.VisionTransformer'
    assert exported.model.roi_head.bbox_head.num_classes == \
        cfg.model.num_classes[cfg.model.dataset_names.index('dota')]
    # the multi-dataset loader / metric / loop reduced to DOTA's, plain types
    assert exported.test_dataloader.dataset.type == 'DOTAv2Dataset'
    assert exported.test_evaluator.type == 'DOTAMetric'
    assert exported.val_cfg.type == 'ValLoop'
    assert 'SetDatasetName' not in exported.pretty_text
    torch.save(dict(inputs=inputs, metas=[meta, meta]), tmp_path / 'in.pth')
    subprocess.run([
        sys.executable, '-c', PLAIN_MMROTATE, cfg_path, ckpt_path,
        str(tmp_path / 'in.pth'), str(tmp_path / 'out.pth')
    ], check=True, cwd=repo_root)
    for got, want in zip(torch.load(tmp_path / 'out.pth'), ref):
        want = want.pred_instances
        assert torch.equal(got['labels'], want.labels)
        assert torch.allclose(got['scores'], want.scores, atol=1e-5)
        boxes = getattr(want.bboxes, 'tensor', want.bboxes)
        assert boxes.shape[-1] == 5  # rotated boxes (cx, cy, w, h, angle)
        assert torch.allclose(got['bboxes'], boxes, atol=1e-3)


def test_shipped_seg_config_reduced_to_one_dataset():
    from export_dense import export_config
    cfg = Config.fromfile(
        'configs/mdf_seg/moe-mdf-p256_vit-b_upernet_8xb12-100e_rsseg4-512x512.py')
    exported = export_config(cfg, dict(type='EncoderDecoder'), 'potsdam')
    loader = exported.test_dataloader
    assert loader.dataset.type == 'PotsdamDataset'
    assert [t['type'] for t in loader.dataset.pipeline][-1] == 'PackSegInputs'
    assert exported.test_evaluator == dict(type='IoUMetric',
                                           iou_metrics=['mFscore'])
    assert exported.test_cfg.type == 'TestLoop'
    assert 'custom_imports' not in exported
    assert 'SetDatasetName' not in exported.pretty_text
