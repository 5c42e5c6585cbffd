"""s5_mm.apis.inference: the test pipeline without label loading, a model
loaded from a checkpoint, and predictions equal to mmseg's own
``inference_model`` on the same model and image."""
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope
from mmseg.apis import inference_model

import s5_mm  # noqa: F401
from s5_mm.apis.inference import (build_inference_pipeline, inference_image,
                                  init_model, init_predictor)

HEAD = dict(type='FCNHead', in_channels=8, channels=8, num_convs=1,
            concat_input=False, num_classes=7)
PIPELINE = [dict(type='LoadImageFromFile'),
            dict(type='Resize', scale=(32, 32), keep_ratio=False),
            dict(type='LoadAnnotationsChecked', num_classes=7,
                 reduce_zero_label=True),
            dict(type='PackSegInputs')]


def config():
    dataset = dict(type='LoveDADataset', data_root='nowhere',
                   pipeline=PIPELINE)
    return Config(dict(
        default_scope='mmseg',
        model=dict(
            type='EncoderDecoder',
            data_preprocessor=dict(type='SegDataPreProcessor',
                                   mean=[1., 2., 3.], std=[50., 60., 70.],
                                   bgr_to_rgb=True),
            backbone=dict(type='VisionTransformer', img_size=(32, 32),
                          patch_size=8, embed_dims=8, num_layers=1,
                          num_heads=2, mlp_ratio=1, out_indices=(0, )),
            decode_head=HEAD, test_cfg=dict(mode='whole')),
        test_pipeline=PIPELINE,
        test_dataloader=dict(dataset=dataset)))


def test_pipeline_drops_labels_and_loads_arrays():
    init_default_scope('mmseg')
    steps = build_inference_pipeline(dict(pipeline=PIPELINE)).transforms
    assert [type(t).__name__ for t in steps] == [
        'LoadImageFromNDArray', 'Resize', 'PackSegInputs']
    named = build_inference_pipeline(dict(pipeline=PIPELINE), 'mmseg',
                                     'loveda').transforms
    assert type(named[-1]).__name__ == 'SetDatasetName'
    assert named[-1].name == 'loveda'
    out = named[0](dict(img=np.zeros((5, 6, 3), np.uint8)))
    assert out['img_shape'] == (5, 6) and out['ori_shape'] == (5, 6)


def test_checkpoint_loaded_and_same_prediction_as_mmseg(tmp_path):
    init_default_scope('mmseg')
    torch.manual_seed(0)
    model = MODELS.build(config().model)
    meta = dict(classes=tuple('abcdefg'), palette=[[i] * 3 for i in range(7)])
    ckpt = str(tmp_path / 'm.pth')
    torch.save(dict(state_dict=model.state_dict(),
                    meta=dict(dataset_meta=meta)), ckpt)
    ours = init_model(config(), ckpt)
    assert not ours.training and ours.dataset_meta == meta
    for k, v in model.state_dict().items():
        assert torch.equal(ours.state_dict()[k], v), k
    model.cfg = config()
    model.eval()
    image = np.random.default_rng(0).integers(0, 255, (40, 48, 3), np.uint8)
    ref = inference_model(model, image)
    model_, pipeline, meta_, name = init_predictor(config(), ckpt)
    assert name == 'LoveDADataset' and len(meta_['classes']) == 7
    got = inference_image(model_, pipeline, image)
    assert got.pred_sem_seg.shape == (40, 48)
    torch.testing.assert_close(got.seg_logits.data, ref.seg_logits.data)
    assert torch.equal(got.pred_sem_seg.data, ref.pred_sem_seg.data)


def test_multi_dataset_model_needs_a_known_dataset(monkeypatch):

    class Named(torch.nn.Module):
        dataset_names = ['a', 'b']

    import s5_mm.apis.inference as inference
    monkeypatch.setattr(inference, 'init_model',
                        lambda *args, **kwargs: Named())
    with pytest.raises(ValueError, match=r"several datasets \['a', 'b'\]"
                       r": choose one with --dataset NAME"):
        init_predictor(config(), None)
    with pytest.raises(ValueError, match="--dataset 'c' is not one of"):
        init_predictor(config(), None, dataset='c')
