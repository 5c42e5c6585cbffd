"""The authors' released S4P / segmentation checkpoints (exact key names and
shapes, written out in tests/utils/s5_reference_seg.py from their model
definitions) converted by tools/model_converters/s5_to_s5mm.py, loaded
strictly into tiny versions of the configs/s5_released/ configs, and
compared with an independent reimplementation of their forward pass."""

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from s5_released_seg import (CH, DEPTH, DIMS, GRID, HEADS, IMG,
                             MDF_CLASSES, MDF_CFG, OUT, P, PATCH, S4P_CFG,
                             build, tiny)
from s5_released_seg import mdf_state as released_mdf_state
from s5_reference_seg import MDF_HEADS, authors_forward, authors_state
from script_runner import run_script

import s5_mm  # noqa: F401
from s5_mm.converters.report import (KindMismatchError, MissingKeyError,
                                     ShapeMismatchError, UnknownKeyError)
from s5_mm.converters.s5_seg import convert_seg, detect_kind

TOOL = 'tools/model_converters/s5_to_s5mm.py'


def convert_cli(tmp_path, state, config=None, extra=(), wrap='model'):
    """Save ``state`` as the authors did (DDP prefix, their dict) and run
    the converter; returns (process, output file)."""
    src, dst = tmp_path / 'authors.pth', tmp_path / 'out' / 'converted.pth'
    ckpt = {wrap: state}
    if wrap == 'model' and any(k.startswith('module.') for k in state):
        ckpt['previous_best_avg_mIoU'] = 0.5
    torch.save(ckpt, src)
    args = [TOOL, str(src), str(dst), *extra]
    if config is not None:
        cfg_path = tmp_path / 'tiny_config.py'
        config.dump(str(cfg_path))
        args += ['--check-config', str(cfg_path)]
    return run_script(args, timeout=300), dst


def ddp(state):
    return {'module.' + k: v for k, v in state.items()}


def samples(names, size=IMG):
    out = []
    for name in names:
        sample = SegDataSample(metainfo=dict(
            dataset_name=name, img_shape=(size, size), ori_shape=(size, size),
            pad_shape=(size, size), padding_size=[0, 0, 0, 0]))
        sample.gt_sem_seg = PixelData(data=torch.zeros(1, size, size).long())
        out.append(sample)
    return out


def max_error(model, sd, img, names, heads):
    with torch.no_grad():
        preds = model.predict(img, samples(names))
        err = 0.0
        for b, (pred, head) in enumerate(zip(preds, heads)):
            ref = authors_forward(sd, img[b:b + 1], HEADS, PATCH, OUT, head)
            err = max(err, (pred.seg_logits.data - ref[0]).abs().max().item())
    return err


@pytest.fixture(scope='module')
def mdf_state():
    return released_mdf_state(seed=1)


def test_mdf_release_matches_authors_forward(tmp_path, mdf_state):
    cfg = tiny(MDF_CFG)
    # the logits of their forward: plain whole inference (their test-time
    # modes: tests/test_models/test_segmentors/test_prob_test_modes.py)
    cfg.model.test_cfg = dict(mode='whole')
    proc, dst = convert_cli(tmp_path, ddp(mdf_state), cfg,
                            ['--kind', 'seg-moe-mdf'])
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert 'fit MultiDatasetEncoderDecoder exactly' in out
    # the table: 4 x 2 placeholder classifiers dropped, the rest consumed
    n_src = len(mdf_state)
    assert f"{'total':<40} {n_src - 8:>9} {8:>8}" in out
    n_uper = 6 * 4 + 6 + 6 * 3 + 6 * 3 + 6  # ConvModules x (conv + 5 BN)
    assert f"{'decode_heads.openearthmap':<40} {n_uper + 2:>9}" in out
    model = build(cfg)
    model.load_state_dict(torch.load(dst)['state_dict'], strict=True)
    torch.manual_seed(0)
    img = torch.randn(4, 3, IMG, IMG)
    names = [name for name, _, _ in MDF_HEADS]
    # the authors' expert of each task is its index in their task order
    heads = [(k, dec, cls) for k, (_, dec, cls) in enumerate(MDF_HEADS)]
    order = [2, 0, 3, 1]  # a mixed batch, datasets out of order
    err = max_error(model, mdf_state, img, [names[i] for i in order],
                    [heads[i] for i in order])
    print(f'MoE-MDF ViT: max |converted - authors| = {err:.2e}')
    assert err <= 1e-5
    # their final resize matters: mmseg's own (align_corners=False) differs
    for head in model.decode_heads.values():
        head.final_align_corners = False
    assert max_error(model, mdf_state, img, [names[i] for i in order],
                     [heads[i] for i in order]) > 1e-3


def test_s4p_upernet_release_matches_authors_forward(tmp_path):
    state = authors_state('s4p-upernet', DIMS, DEPTH, PATCH, GRID, CH, (16, ))
    cfg = tiny(S4P_CFG)
    proc, dst = convert_cli(tmp_path, ddp(state), cfg)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert 'kind: s4p-upernet' in out and 'fit EncoderDecoder exactly' in out
    model = build(cfg)
    model.load_state_dict(torch.load(dst)['state_dict'], strict=True)
    img = torch.randn(2, 3, IMG, IMG)
    err = max_error(model, state, img, ['isaid'] * 2,
                    [(0, 'semsegdecoder', 'semseghead')] * 2)
    print(f'S4P UperNet: max |converted - authors| = {err:.2e}')
    assert err <= 1e-5


def test_s4p_encoder_release(tmp_path):
    state = authors_state('s4p-encoder', DIMS, DEPTH, PATCH, GRID, CH)
    proc, dst = convert_cli(tmp_path, state, tiny(S4P_CFG))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert 'kind: s4p-encoder' in out
    assert 'fit VisionTransformer+Feature2PyramidLN exactly' in out
    converted = torch.load(dst)['state_dict']
    assert len(converted) == len(state)
    assert converted['backbone.pos_embed'].shape == (1, 1 + GRID**2, DIMS)
    assert converted['backbone.pos_embed'][0, 0].abs().sum() == 0
    assert torch.equal(converted['backbone.pos_embed'][:, 1:],
                       state['pos_embed'])
    # --backbone-only: the neck is listed as dropped
    proc, dst = convert_cli(tmp_path, state, None, ['--backbone-only'])
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert out.count('not part of the backbone (--backbone-only)') == 8
    assert len(torch.load(dst)['state_dict']) == len(state) - 8


def test_kinds_detected():
    enc = authors_state('s4p-encoder', DIMS, 1, PATCH, GRID, CH)
    assert detect_kind(enc) == 's4p-encoder'
    assert detect_kind(ddp(authors_state('s4p-upernet', DIMS, 1, PATCH, GRID,
                                         CH))) == 's4p-upernet'
    assert detect_kind(authors_state('seg-moe-mdf', DIMS, 1, PATCH, GRID, CH,
                                     MDF_CLASSES, experts=4,
                                     p=P)) == 'seg-moe-mdf'
    det = {'backbone.patch_embed.projection.weight': torch.zeros(1),
           'rpn_head_dior.rpn_conv.weight': torch.zeros(1)}
    assert detect_kind(det) == 'det-moe-mdf'


# ----------------------------------------------------------------- refusals
def test_refuses_missing_key(mdf_state):
    state = ddp(mdf_state)
    del state['module.encoder.layers.1.ln2.weight']
    with pytest.raises(MissingKeyError, match=r'backbone\.layers\.1\.ln2'):
        convert_seg(state)
    state = ddp(mdf_state)
    del state['module.semseghead_loveda.1.bias']
    with pytest.raises(MissingKeyError, match=r'semseghead_loveda\.1\.bias'):
        convert_seg(state)


@pytest.mark.parametrize('key', [
    'module.encoder.layers.0.ffn.gamma2.weight',  # not in their ViT
    'module.encoder.norm.weight',
    'module.auxiliary_head.conv.weight',  # not in their model
    'module.semsegdecoder_loveda.decode_head.extra.weight',
])
def test_refuses_unknown_key(mdf_state, key):
    state = dict(ddp(mdf_state), **{key: torch.zeros(3)})
    with pytest.raises(UnknownKeyError, match=key[len('module.'):]
                       .replace('.', r'\.')):
        convert_seg(state)


def test_refuses_wrong_shape(mdf_state):
    state = ddp(mdf_state)
    key = 'module.encoder.layers.2.ffn.experts.3.weight'
    state[key] = torch.zeros(P + 1, 4 * DIMS)
    with pytest.raises(ShapeMismatchError,
                       match=r'encoder\.layers\.2\.ffn\.experts\.3\.weight'):
        convert_seg(state)
    state = ddp(mdf_state)
    key = 'module.semsegdecoder_potsdam.decode_head.fpn_convs.1.conv.weight'
    state[key] = torch.zeros(CH, CH, 1, 1)
    with pytest.raises(ShapeMismatchError, match=r'fpn_convs\.1\.conv'):
        convert_seg(state)


def test_refuses_wrong_kind_cli(tmp_path, mdf_state):
    proc, dst = convert_cli(tmp_path, ddp(mdf_state), None,
                            ['--kind', 'det-moe-mdf'])
    assert proc.returncode != 0 and not dst.exists()
    assert 'KindMismatchError' in proc.stderr
    assert "given as 'det-moe-mdf'" in proc.stderr
    assert "'seg-moe-mdf' checkpoint" in proc.stderr
    # a detector given as a segmentation checkpoint
    det = {'backbone.patch_embed.projection.weight': torch.zeros(4, 3, 2, 2),
           'roi_head_dior.bbox_head.fc_cls.weight': torch.zeros(21, 8)}
    with pytest.raises(KindMismatchError, match="'det-moe-mdf' checkpoint"):
        convert_seg(det, 'seg-moe-mdf')
    with pytest.raises(KindMismatchError, match='not a segmentation'):
        convert_seg(det)


def test_refuses_unknown_key_cli(tmp_path, mdf_state):
    state = dict(ddp(mdf_state), **{'module.encoder.fpn3.weight':
                                    torch.zeros(2)})
    proc, dst = convert_cli(tmp_path, state)
    assert proc.returncode != 0 and not dst.exists()
    assert "UnknownKeyError: unexpected neck key 'encoder.fpn3.weight'" in \
        proc.stderr


def test_seg_checkpoint_is_not_obbdet(mdf_state):
    from s5_mm.converters.obbdet import is_obbdet
    assert not is_obbdet(ddp(mdf_state))
    assert not is_obbdet(mdf_state)


@pytest.mark.parametrize('config,kind,dims,depth', [
    (MDF_CFG, 'seg-moe-mdf', 768, 12),
    (MDF_CFG.replace('vit-b', 'vit-l'), 'seg-moe-mdf', 1024, 24),
    (S4P_CFG, 's4p-upernet', 768, 12),
    (S4P_CFG.replace('vit-b', 'vit-l'), 's4p-upernet', 1024, 24),
])
def test_shipped_config_fits_full_size_release(config, kind, dims, depth):
    """The authors' full-size layout (512 px, P = 256, 256-channel heads,
    their class counts), as meta tensors, converts into exactly the keys
    and shapes of the shipped config's model."""
    from s5_reference_seg import ENC, uper_shapes
    from reference_vit import vit_shapes

    from s5_mm.utils.meta_device import MetaTensors
    experts = 4 if kind == 'seg-moe-mdf' else 0
    shapes = {ENC + k: v for k, v in vit_shapes(
        's5', dims, depth, 16, 32, experts=experts, p=256).items()}
    heads = MDF_HEADS if experts else [(None, 'semsegdecoder', 'semseghead')]
    for (_, dec, cls), ncls in zip(heads, MDF_CLASSES if experts else [16]):
        shapes.update(uper_shapes(f'{dec}.decode_head.', dims, 256))
        shapes.update({f'{cls}.1.weight': (ncls, 256, 1, 1),
                       f'{cls}.1.bias': (ncls, )})
    state = {'module.' + k: torch.empty(v, device='meta')
             for k, v in shapes.items()}
    converted, report = convert_seg(state, kind)
    assert len(report.consumed) == len(state) - 2 * len(heads)
    init_default_scope('mmseg')
    with MetaTensors():
        model = MODELS.build(Config.fromfile(config).model)
    target = {k: v.shape for k, v in model.state_dict().items()}
    assert {k: v.shape for k, v in converted.items()} == target
