"""MultiDatasetEncoderDecoder: routing, gradients, batch independence,
DDP-whole graph and errors, on a tiny model shrunk from the shipped config."""
import copy

import pytest
import torch
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

import s5_mm  # noqa: F401
from mdf_seg_utils import NAMES, NUM_CLASSES, SIZE, make_openearthmap, tiny_cfg


@pytest.fixture(scope='module')
def cfg(tmp_path_factory):
    return tiny_cfg(make_openearthmap(str(tmp_path_factory.mktemp('oem'))))


def build(model_cfg):
    init_default_scope('mmseg')
    torch.manual_seed(0)
    model = MODELS.build(copy.deepcopy(model_cfg))
    return model


def make_batch(names, seed=0):
    g = torch.Generator().manual_seed(seed)
    inputs = torch.randn(len(names), 3, SIZE, SIZE, generator=g)
    samples = []
    for name in names:
        s = SegDataSample()
        s.set_metainfo(dict(dataset_name=name, img_shape=(SIZE, SIZE),
                            ori_shape=(SIZE, SIZE), pad_shape=(SIZE, SIZE),
                            padding_size=[0, 0, 0, 0]))
        s.gt_sem_seg = PixelData(data=torch.randint(
            0, NUM_CLASSES.get(name, 2), (1, SIZE, SIZE), generator=g))
        samples.append(s)
    return inputs, samples


def grads_of(params):
    return [p.grad for p in params]


def expert_params(model, k):
    return [p for n, p in model.backbone.named_parameters()
            if f'.experts.{k}.' in n]


def test_heads_and_routing_setup(cfg):
    model = build(cfg.model)
    assert model.dataset_names == NAMES
    assert model.backbone_is_routed
    assert {n: h.num_classes for n, h in model.decode_heads.items()} == \
        NUM_CLASSES
    assert all(h.channels == 16 for h in model.decode_heads.values())


def test_loss_on_a_gives_no_grad_to_b(cfg):
    """A loss of vaihingen's samples only: loveda's head and expert get
    exactly zero gradient, vaihingen's head and expert do not."""
    model = build(cfg.model)
    model.train()
    inputs, samples = make_batch(
        ['vaihingen', 'loveda', 'vaihingen', 'loveda'])
    losses = model.loss(inputs, samples)
    present = {k.split('/')[0] for k in losses
               if not k.endswith('/loss_absent')}
    assert present == {'vaihingen', 'loveda'}
    absent = {k: v.item() for k, v in losses.items()
              if k.endswith('/loss_absent')}
    assert absent == {'potsdam/loss_absent': 0.0,
                      'openearthmap/loss_absent': 0.0}
    loss_a = sum(v for k, v in losses.items()
                 if k.startswith('vaihingen/') and 'loss' in k)
    loss_a.backward()
    ids = {n: i for i, n in enumerate(NAMES)}
    for p in list(model.decode_heads['loveda'].parameters()) + \
            expert_params(model, ids['loveda']):
        assert p.grad is None or torch.count_nonzero(p.grad) == 0
    head_a = list(model.decode_heads['vaihingen'].parameters())
    assert sum(float(p.grad.abs().sum()) for p in head_a) > 0
    assert sum(float(p.grad.abs().sum())
               for p in expert_params(model, ids['vaihingen'])) > 0
    shared = model.backbone.layers[0].ffn.shared_fc.weight
    assert float(shared.grad.abs().sum()) > 0


def test_absent_datasets_keep_the_graph_whole(cfg):
    """Only potsdam in the batch: every parameter still gets a gradient
    (zero for the other heads and experts), as DDP without
    find_unused_parameters requires."""
    model = build(cfg.model)
    model.train()
    inputs, samples = make_batch(['potsdam', 'potsdam'])
    losses = model.loss(inputs, samples)
    total = sum(v for k, v in losses.items() if 'loss' in k)
    total.backward()
    missing = [n for n, p in model.named_parameters()
               if p.requires_grad and p.grad is None]
    assert missing == []
    for name in ('vaihingen', 'loveda', 'openearthmap'):
        for p in model.decode_heads[name].parameters():
            assert torch.count_nonzero(p.grad) == 0
    assert float(model.decode_heads['potsdam'].conv_seg.weight.grad.abs()
                 .sum()) > 0


def test_prediction_does_not_depend_on_batch(cfg):
    model = build(cfg.model)
    model.eval()
    inputs, samples = make_batch(['loveda', 'vaihingen', 'openearthmap',
                                  'loveda', 'potsdam'], seed=3)
    with torch.no_grad():
        mixed = model.predict(inputs, copy.deepcopy(samples))
        for i, sample in enumerate(samples):
            alone = model.predict(inputs[i:i + 1], [copy.deepcopy(sample)])[0]
            name = sample.metainfo['dataset_name']
            assert mixed[i].seg_logits.data.shape[0] == NUM_CLASSES[name]
            torch.testing.assert_close(
                mixed[i].seg_logits.data, alone.seg_logits.data,
                rtol=1e-5, atol=1e-5)
            assert torch.equal(mixed[i].pred_sem_seg.data,
                               alone.pred_sem_seg.data)
    # another sample's dataset changes its prediction (other expert + head)
    with torch.no_grad():
        other = copy.deepcopy(samples[0])
        other.set_metainfo(dict(dataset_name='openearthmap'))
        out = model.predict(inputs[:1], [other])[0]
    assert out.seg_logits.data.shape[0] == 8


def test_slide_mode_per_dataset(cfg):
    """test_cfg.per_dataset gives loveda a sliding window; the others stay
    whole; the result of a mixed batch equals each dataset alone."""
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.test_cfg = dict(
        mode='whole',
        per_dataset=dict(loveda=dict(mode='slide', crop_size=(32, 32),
                                     stride=(24, 24))))
    model = build(model_cfg)
    model.eval()
    assert model.branches['loveda'].test_cfg.mode == 'slide'
    assert model.branches['potsdam'].test_cfg.mode == 'whole'
    inputs, samples = make_batch(['loveda', 'potsdam'], seed=4)
    with torch.no_grad():
        mixed = model.predict(inputs, copy.deepcopy(samples))
        whole = build(cfg.model)
        whole.load_state_dict(model.state_dict())
        whole.eval()
        ref = whole.predict(inputs, copy.deepcopy(samples))
    torch.testing.assert_close(mixed[1].seg_logits.data,
                               ref[1].seg_logits.data)
    assert not torch.allclose(mixed[0].seg_logits.data,
                              ref[0].seg_logits.data)


def test_plain_vit_mdf(tmp_path):
    """MDF baseline: plain VisionTransformer gets no dataset ids."""
    cfg = tiny_cfg(make_openearthmap(str(tmp_path)), moe=False)
    model = build(cfg.model)
    assert not model.backbone_is_routed
    assert type(model.backbone).__name__ == 'VisionTransformer'
    inputs, samples = make_batch(['openearthmap', 'vaihingen'])
    losses = model.loss(inputs, samples)
    assert set(losses) >= {'openearthmap/decode.loss_ce',
                           'vaihingen/decode.loss_ce'}
    outs = model._forward(inputs, samples)
    assert outs['openearthmap'].shape[:2] == (1, 8)
    assert outs['vaihingen'].shape[:2] == (1, 6)


def test_single_dataset_model_needs_no_names(cfg):
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.decode_heads = dict(loveda=model_cfg.decode_heads.loveda)
    model_cfg.backbone.dataset_names = ['loveda']
    model = build(model_cfg)
    model.eval()
    with torch.no_grad():
        out = model.predict(torch.randn(2, 3, SIZE, SIZE))
    assert len(out) == 2 and out[0].seg_logits.data.shape[0] == 7
    assert model.decode_head is model.decode_heads['loveda']
    assert model.branches['loveda'].decode_head is model.decode_heads['loveda']


def test_errors(cfg):
    model = build(cfg.model)
    inputs, samples = make_batch(['vaihingen', 'isaid'])
    with pytest.raises(ValueError, match="unknown dataset 'isaid'"):
        model.loss(inputs, samples)
    # a label that does not fit its head: stopped at load time, see
    # tests/test_datasets/test_transforms/test_load_annotations_checked.py
    # ::test_label_beyond_the_heads_classes_stops_loading
    # heads vs datasets: at runner start, see tests/test_engine/test_hooks/
    # test_dataset_class_check_hook.py
    # ::test_segmentor_heads_against_named_datasets
    inputs, samples = make_batch(['vaihingen', 'loveda'])
    with pytest.raises(ValueError, match='pass data samples'):
        model.predict(inputs)
    bad = copy.deepcopy(cfg.model)
    bad.backbone.dataset_names = NAMES[:3]
    with pytest.raises(ValueError, match='must name the same datasets'):
        build(bad)
    bad = copy.deepcopy(cfg.model)
    bad.decode_head = bad.decode_heads.loveda
    with pytest.raises(TypeError, match='decode_head=None'):
        build(bad)


def test_ids_follow_backbone_order_not_dict_order(cfg):
    """Config dumps sort dict keys: the expert ids come from the backbone's
    dataset_names list, whatever the order of decode_heads."""
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.decode_heads = dict(sorted(model_cfg.decode_heads.items()))
    model = build(model_cfg)
    assert model.dataset_names == NAMES
    assert list(model.decode_heads) == NAMES


def test_branches_are_mmseg_encoder_decoders(cfg):
    """Each branch IS an mmseg EncoderDecoder over the shared parts; mmseg's
    own inference on it gives what the multi-dataset model predicts, and
    its state dict is that of a plain single-dataset model."""
    from mmseg.models.segmentors import EncoderDecoder
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.test_cfg = dict(
        mode='whole',
        per_dataset=dict(loveda=dict(mode='slide', crop_size=(32, 32),
                                     stride=(24, 24))))
    model = build(model_cfg)
    model.eval()
    assert model.with_decode_head and not model.with_auxiliary_head
    for k, name in enumerate(NAMES):
        branch = model.branches[name]
        assert isinstance(branch, EncoderDecoder)
        assert branch.with_decode_head and branch.with_neck
        assert branch.backbone is model.backbone and branch.neck is model.neck
        assert branch.decode_head is model.decode_heads[name]
        assert branch.num_classes == branch.out_channels == NUM_CLASSES[name]
        assert branch.dataset_id == k and not branch.training
    # no key twice: the branches are not child modules
    keys = list(model.state_dict())
    assert not [k for k in keys if k.startswith('branches')]
    assert set(model.branches['loveda'].state_dict()) == {
        k.replace('decode_heads.loveda.', 'decode_head.') for k in keys
        if not k.startswith('decode_heads.') or
        k.startswith('decode_heads.loveda.')}
    inputs, samples = make_batch(['potsdam', 'loveda'], seed=5)
    metas = [s.metainfo for s in samples]
    with torch.no_grad():
        mixed = model.predict(inputs, copy.deepcopy(samples))
        for i, name in enumerate(['potsdam', 'loveda']):
            branch = model.branches[name]
            # mmseg's EncoderDecoder.inference, by hand: slide for loveda
            want = EncoderDecoder.inference(branch, inputs[i:i + 1],
                                            metas[i:i + 1])
            feats = model.neck(model.backbone(inputs[i:i + 1],
                                              NAMES.index(name)))
            if name == 'potsdam':  # whole: one head pass on the features
                by_hand = model.decode_heads[name].predict(
                    feats, metas[i:i + 1], branch.test_cfg)
                torch.testing.assert_close(want, by_hand)
            torch.testing.assert_close(mixed[i].seg_logits.data, want[0])
            torch.testing.assert_close(
                model.inference(inputs[i:i + 1], metas[i:i + 1]), want)
    model.train()
    assert all(b.training for b in model.branches.values())
    with pytest.raises(ValueError, match='batch of ONE dataset'):
        model.inference(inputs, metas)
    with pytest.raises(ValueError, match='one decode head per dataset'):
        model.decode_head  # noqa: B018
