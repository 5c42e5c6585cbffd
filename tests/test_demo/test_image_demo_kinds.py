"""demo/image_demo.py on every shipped config kind: S4P (self and EMA
teacher), SDF / MDF / MoE-MDF segmentation, SDF / MoE-MDF rotated detection.

Each test shrinks the shipped config (tests/utils/s5mm_tiny_configs.py),
saves a random-initialised checkpoint and runs the demo on a bundled image.
The demo's prediction must equal one made without s5_mm's inference code
(tests/utils/independent_prediction.py: host registry, strict
``load_state_dict``, the config's test pipeline, mmseg's
``inference_model`` / ``test_step``) from checkpoint weights no fresh
initialisation gives (noise added), so a demo that ignored its checkpoint
would fail."""

import mmcv
import numpy as np
import pytest
import torch
from mmengine.config import Config

import s5_mm  # noqa: F401
from s5_mm.apis import dataset_metainfo, find_dataset
from independent_prediction import (detection_prediction,
                                    perturb_checkpoint,
                                    segmentation_prediction)
from s5mm_tiny_configs import save_random_checkpoint, tiny_config

SEG_IMG = 'tests/data/loveda/img_dir/1.png'
DOTA_IMG = 'tests/data/dota_split/images/P0706__1__0___256.png'



def check_painted(out_file, image_file, pred, palette):
    """The picture (drawn with --no-labels): image size, every pixel 0.5
    image + 0.5 colour of its predicted class."""
    drawn = mmcv.imread(out_file, channel_order='rgb').astype(float)
    image = mmcv.imread(image_file, channel_order='rgb').astype(float)
    assert drawn.shape == image.shape
    expected = np.floor(0.5 * image + 0.5 * np.asarray(palette, float)[pred])
    assert (np.abs(drawn - expected).max(-1) <= 1).mean() > 0.999


def plain_segmentor_prediction(cfg, ckpt, prefix, image_file):
    """What mmseg's own init_model / inference_model predict with the
    ``prefix`` weights of the checkpoint as a plain EncoderDecoder."""
    from mmseg.apis import inference_model, init_model
    plain = Config(dict(model=cfg.model.segmentor,
                        default_scope='mmseg'))
    plain.test_pipeline = find_dataset(cfg)['pipeline']
    model = init_model(plain, device='cpu')
    state = torch.load(ckpt, map_location='cpu')['state_dict']
    model.load_state_dict({k[len(prefix):]: v for k, v in state.items()
                           if k.startswith(prefix)})
    return inference_model(model, image_file).pred_sem_seg.data[0]


@pytest.mark.parametrize('name,options,source', [
    ('s4p-fixmatch_vit-b_upernet_8xb12-120k_isaid-rs4p-512x512.py', {},
     'student.'),
    ('s4p-unimatch-v2_vit-b_upernet_8xb12-120k_isaid-rs4p-512x512.py', {},
     'teacher.'),
])
def test_s4p(name, options, source, tmp_path, image_demo):
    """FixMatchSegmentor: predicts with the model semi_test_cfg names."""
    cfg = tiny_config(name, **options)
    cfg_file, ckpt, model = save_random_checkpoint(cfg, str(tmp_path))
    if source == 'teacher.':
        # teacher and student must differ for the check to mean anything
        state = torch.load(ckpt)
        for key, value in state['state_dict'].items():
            if key.startswith('teacher.') and value.is_floating_point():
                value.add_(torch.randn_like(value) * 0.5)
        torch.save(state, ckpt)
    out = str(tmp_path / 'out.png')
    result = image_demo.main([SEG_IMG, cfg_file, ckpt, '--out-file', out,
                              '--no-labels'])
    pred = result.pred_sem_seg.data[0]
    assert torch.equal(pred, plain_segmentor_prediction(cfg, ckpt, source,
                                                        SEG_IMG))
    other = 'student.' if source == 'teacher.' else None
    if other:
        assert not torch.equal(
            pred, plain_segmentor_prediction(cfg, ckpt, other, SEG_IMG))
    meta = dataset_metainfo(find_dataset(cfg))
    assert result.seg_logits.data.shape[0] == len(meta['classes'])
    check_painted(out, SEG_IMG, pred.numpy(), meta['palette'])


@pytest.mark.parametrize('name,dataset', [
    ('sdf_vit-b_upernet_8xb12-100e_loveda-512x512.py', None),
    ('mdf_vit-b_upernet_8xb12-100e_rsseg4-512x512.py', 'potsdam'),
    ('moe-mdf-p256_vit-b_upernet_8xb12-100e_rsseg4-512x512.py',
     'openearthmap'),
])
def test_segmentation(name, dataset, tmp_path, image_demo):
    cfg = tiny_config(name)
    cfg_file, ckpt, _ = save_random_checkpoint(cfg, str(tmp_path))
    perturb_checkpoint(ckpt)
    out = str(tmp_path / 'out.png')
    args = [SEG_IMG, cfg_file, ckpt, '--out-file', out, '--no-labels']
    result = image_demo.main(args + (['--dataset', dataset]
                                     if dataset else []))
    expected = segmentation_prediction(cfg, ckpt, SEG_IMG, dataset)
    torch.testing.assert_close(result.seg_logits.data,
                               expected.seg_logits.data)
    assert torch.equal(result.pred_sem_seg.data, expected.pred_sem_seg.data)
    meta = dataset_metainfo(find_dataset(cfg, dataset))
    assert result.seg_logits.data.shape[0] == len(meta['classes'])
    check_painted(out, SEG_IMG, result.pred_sem_seg.data[0].numpy(),
                  meta['palette'])


@pytest.mark.parametrize('name,dataset,image', [
    ('sdf_vit-b_oriented-rcnn-le90_8xb2-12e_dota2-1024x1024.py', None,
     DOTA_IMG),
    ('moe-mdf-p256_vit-b_oriented-rcnn-le90_8xb2-12e_dior-r-dota2-'
     '1024x1024.py', 'dior', 'tests/data/dior/JPEGImage/00001.jpg'),
])
def test_rotated_detection(name, dataset, image, tmp_path, image_demo):
    cfg = tiny_config(name, **{'model.test_cfg.rcnn.score_thr': 0.0})
    cfg_file, ckpt, _ = save_random_checkpoint(cfg, str(tmp_path))
    perturb_checkpoint(ckpt)
    out = str(tmp_path / 'out.png')
    result = image_demo.main([image, cfg_file, ckpt, '--out-file', out,
                              '--score-thr', '0'] +
                             (['--dataset', dataset] if dataset else []))
    meta = dataset_metainfo(find_dataset(cfg, dataset), 'mmrotate')
    pred = result.pred_instances
    assert len(pred) > 0
    expected = detection_prediction(cfg, ckpt, image, dataset).pred_instances
    assert len(pred) == len(expected)
    torch.testing.assert_close(pred.bboxes, expected.bboxes)
    torch.testing.assert_close(pred.scores, expected.scores)
    assert torch.equal(pred.labels, expected.labels)
    assert int(pred.labels.max()) < len(meta['classes'])
    drawn, raw = mmcv.imread(out), mmcv.imread(image)
    assert drawn.shape == raw.shape
    assert (drawn != raw).any(-1).mean() > 0.01  # boxes are drawn
