"""Inference helpers of the rotated-detection demo: per-dataset pipeline
from the config, and patch-wise inference of large images."""
import copy
import os
import sys

import mmcv
import pytest
import torch
from mmcv.transforms import Compose
from mmdet.structures import DetDataSample
from mmengine.structures import InstanceData
from mmrotate.registry import MODELS

from independent_prediction import (config_test_pipeline, file_pipeline,
                                    load_weights, perturb_checkpoint)
from mdf_det_common import tiny_model_cfg, tiny_pipelines
from s5_mm.apis import build_inference_pipeline as _build_pipeline
from s5_mm.apis import dataset_metainfo as _metainfo
from s5_mm.apis import (draw_rotated_boxes, find_dataset,
                        inference_detector_large_scene,
                        patch_offsets)
from script_runner import run_script

inference_rotated_detector = inference_detector_large_scene


def build_inference_pipeline(dataset_cfg):
    return _build_pipeline(dataset_cfg, 'mmrotate')


def dataset_metainfo(dataset_cfg):
    return _metainfo(dataset_cfg, 'mmrotate')


def draw_rotated_detections(image, sample, meta, score_thr, out_file):
    drawn = mmcv.bgr2rgb(draw_rotated_boxes(image.copy(), sample, meta,
                                            score_thr))
    mmcv.imwrite(mmcv.rgb2bgr(drawn), out_file)
    return drawn


DOTA_PATCH = 'tests/data/dota_split/images/P0706__1__0___256.png'


@pytest.fixture(autouse=True)
def _mmrotate_scope(moe_cfg):
    """Every test here runs in the mmrotate scope (``moe_cfg`` sets it)."""


@pytest.fixture(scope='module')
def tiny(moe_cfg_loaded):
    from mmengine.registry import init_default_scope
    init_default_scope('mmrotate')
    cfg = tiny_pipelines(copy.deepcopy(moe_cfg_loaded))
    # the config's test datasets carry the shrunk pipelines
    for ds, key in zip(cfg.test_dataloader.dataset.datasets,
                       ('dior_test_pipeline', 'dota_test_pipeline')):
        ds.pipeline = cfg[key]
    model_cfg = tiny_model_cfg(cfg)
    model_cfg.test_cfg.rcnn.score_thr = 0.0
    torch.manual_seed(0)
    return cfg, MODELS.build(model_cfg).eval()


def test_find_dataset_by_name(moe_cfg):
    assert find_dataset(moe_cfg, 'dota')['type'] == 'StrictDOTAv2Dataset'
    assert find_dataset(moe_cfg, 'dior')['type'] == 'StrictDIORDataset'
    with pytest.raises(ValueError, match=r"unknown dataset 'xview'.*"
                       r"\['dior', 'dota'\]"):
        find_dataset(moe_cfg, 'xview')
    with pytest.raises(ValueError, match='--dataset NAME'):
        find_dataset(moe_cfg)


def test_inference_pipeline_needs_no_labels(tiny):
    cfg, _ = tiny
    pipeline = build_inference_pipeline(find_dataset(cfg, 'dota'))
    names = [type(t).__name__ for t in pipeline.transforms]
    assert 'LoadAnnotations' not in names and 'ConvertBoxType' not in names
    out = pipeline(dict(img=mmcv.imread(DOTA_PATCH)))
    sample = out['data_samples']
    assert sample.metainfo['dataset_name'] == 'dota'
    assert sample.ori_shape == (512, 512)
    assert len(sample.gt_instances) == 0


def test_patch_offsets_cover_the_image():
    offsets = patch_offsets(512, 700, 256, 56)
    xs = sorted({x for x, _ in offsets})
    ys = sorted({y for _, y in offsets})
    assert xs == [0, 200, 400, 444] and ys == [0, 200, 256]
    with pytest.raises(ValueError, match='overlap'):
        patch_offsets(512, 512, 256, 256)


def test_patchwise_inference_shifts_window_boxes(tiny):
    cfg, model = tiny
    pipeline = build_inference_pipeline(find_dataset(cfg, 'dota'))
    image = mmcv.imread(DOTA_PATCH)[:256]  # 256 x 512: two 256 windows
    # IoU threshold 1 keeps every box: merged = both windows, shifted
    merged = inference_rotated_detector(
        model, image, pipeline, patch_size=256, patch_overlap=0,
        nms_iou=1.0).pred_instances
    left = inference_rotated_detector(model, image[:, :256], pipeline)
    right = inference_rotated_detector(model, image[:, 256:], pipeline)
    expected = torch.cat([left.pred_instances.bboxes,
                          right.pred_instances.bboxes + torch.tensor(
                              [256., 0, 0, 0, 0])])
    assert len(merged) == len(expected) > 0
    order = torch.argsort(merged.bboxes[:, 0] * 1e4 + merged.bboxes[:, 1])
    ref = torch.argsort(expected[:, 0] * 1e4 + expected[:, 1])
    torch.testing.assert_close(merged.bboxes[order], expected[ref])
    assert merged.bboxes[:, 0].max() > 256  # boxes of the right window
    # a real threshold merges overlapping boxes away
    fewer = inference_rotated_detector(
        model, image, pipeline, patch_size=256, patch_overlap=0,
        nms_iou=0.1).pred_instances
    assert len(fewer) < len(merged)


def test_draw_rotated_detections(tiny, tmp_path):
    cfg, _ = tiny
    meta = dataset_metainfo(find_dataset(cfg, 'dota'))
    assert len(meta['classes']) == 18 and meta['classes'][6] == 'ship'
    image = mmcv.imread(DOTA_PATCH)
    sample = DetDataSample()
    sample.pred_instances = InstanceData(
        bboxes=torch.tensor([[100., 200., 80., 30., 0.5],
                             [400., 400., 50., 50., 0.0]]),
        scores=torch.tensor([0.9, 0.1]), labels=torch.tensor([6, 0]))
    out = tmp_path / 'vis.jpg'
    drawn = draw_rotated_detections(image, sample, meta, score_thr=0.3,
                                    out_file=str(out))
    assert out.exists() and drawn.shape == image.shape
    diff = (drawn.astype(int) != mmcv.bgr2rgb(image).astype(int)).any(-1)
    ys, xs = diff.nonzero()
    # only the box above the threshold (around (100, 200)) and its label
    assert diff.sum() > 100
    assert xs.max() < 300 and ys.max() < 300


@pytest.fixture(scope='module')
def saved(tiny, tmp_path_factory):
    """The tiny model's config file and checkpoint (its weights plus noise,
    so no fresh initialisation gives them), and the model holding the
    checkpoint's weights (host registry, strict ``load_state_dict``)."""
    cfg, model = tiny
    cfg = copy.deepcopy(cfg)
    cfg.model = tiny_model_cfg(cfg)
    cfg.model.test_cfg.rcnn.score_thr = 0.0
    work = tmp_path_factory.mktemp('tiny_det')
    cfg_file, ckpt = str(work / 'cfg.py'), str(work / 'w.pth')
    cfg.dump(cfg_file)
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    perturb_checkpoint(ckpt)
    return cfg, load_weights(cfg, ckpt), cfg_file, ckpt


def test_demo_on_a_checkpoint(saved, tmp_path, repo_root):
    """Config file + checkpoint -> drawn predictions of the DOTA head."""
    cfg, model, cfg_file, ckpt = saved
    sys.path.insert(0, os.path.join(repo_root, 'demo'))
    try:
        import image_demo
    finally:
        sys.path.pop(0)
    out_file = tmp_path / 'vis' / 'dota.png'
    result = image_demo.main([DOTA_PATCH, cfg_file, ckpt, '--dataset', 'dota',
                              '--out-file', str(out_file),
                              '--score-thr', '0.0'])
    expected = inference_rotated_detector(
        model, mmcv.imread(DOTA_PATCH),
        build_inference_pipeline(find_dataset(cfg, 'dota')))
    torch.testing.assert_close(result.pred_instances.bboxes,
                               expected.pred_instances.bboxes)
    assert out_file.exists()
    with pytest.raises(ValueError, match='--dataset NAME'):
        image_demo.main([DOTA_PATCH, cfg_file, ckpt, '--out-file',
                         str(out_file)])


@torch.no_grad()
def patchwise_reference(model, cfg, image, starts, patch):
    """Boxes of the windows ``image[y:y+patch, x:x+patch]`` (x, y in
    ``starts``), each predicted alone, shifted to image pixels and merged
    with mmcv's ``batched_nms`` (``nms_rotated``, IoU 0.1, class by class:
    ``split_thr=0``, whose tie order the demo documents; the random model
    scores many boxes equally); boxes whose centre lies outside the image
    are dropped."""
    from mmcv.ops import batched_nms
    from mmengine.dataset import pseudo_collate
    steps = file_pipeline(config_test_pipeline(cfg, 'dota'), 'mmrotate')
    steps[0] = dict(type='mmdet.LoadImageFromNDArray')
    pipeline = Compose(steps)
    parts = []
    for y in starts:
        for x in starts:
            crop = image[y:y + patch, x:x + patch]
            pred = model.test_step(pseudo_collate(
                [pipeline(dict(img=crop))]))[0].pred_instances
            pred.bboxes = pred.bboxes + torch.tensor([x, y, 0., 0., 0.])
            parts.append(pred)
    merged = InstanceData.cat(parts)
    _, keep = batched_nms(merged.bboxes, merged.scores, merged.labels,
                          dict(type='nms_rotated', iou_threshold=0.1,
                               split_thr=0))
    merged = merged[keep]
    h, w = image.shape[:2]
    cx, cy = merged.bboxes[:, 0], merged.bboxes[:, 1]
    sample = DetDataSample()
    sample.pred_instances = merged[(cx >= 0) & (cx < w) & (cy >= 0) &
                                   (cy < h)]
    return sample


def test_image_demo_cli(saved, tmp_path, repo_root):
    """demo/image_demo.py on a rotated-detection config: --dataset picks
    the head; --patch-size runs patch-wise; drawings are written."""
    cfg, model, cfg_file, ckpt = saved
    demo = str(tmp_path / 'demo.png')
    proc = run_script(
        ['demo/image_demo.py', DOTA_PATCH, cfg_file, ckpt,
         '--dataset', 'dota', '--out-file', demo, '--score-thr', '0.0',
         '--patch-size', '256', '--patch-overlap', '64'], cwd=repo_root,
        timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    drawn = mmcv.imread(demo)
    assert drawn.shape == (512, 512, 3)
    assert (drawn != mmcv.imread(DOTA_PATCH)).any()
    # the picture is the drawing of the patch-wise prediction made here
    # without s5_mm's inference code: the checkpoint's weights, the DOTA
    # test pipeline, windows at 0, 192, 256 (256 px, step 192, the last
    # one ending at the border), boxes shifted back, merged by mmcv's
    # class-wise rotated NMS (IoU 0.1), centres inside the image
    image = mmcv.imread(DOTA_PATCH)
    expected = patchwise_reference(model, cfg, image, [0, 192, 256], 256)
    assert len(expected.pred_instances) > 0
    meta = dataset_metainfo(find_dataset(cfg, 'dota'))
    reference = draw_rotated_boxes(image.copy(), expected, meta, 0.0)
    mismatch = (drawn != reference).any(-1)
    assert not mismatch.any(), (
        f'{mismatch.sum()} pixels differ from the drawn reference '
        f'({len(expected.pred_instances)} boxes)')
    proc = run_script(
        ['demo/image_demo.py', DOTA_PATCH, cfg_file, ckpt,
         '--dataset', 'xview', '--out-file', demo], cwd=repo_root,
        timeout=600)
    assert proc.returncode != 0
    assert "--dataset 'xview' is not one of the model's datasets" in \
        proc.stderr
