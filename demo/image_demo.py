"""Run a trained s5_mm (or plain mmseg / mmrotate) model on one image and
save the image with the prediction drawn on it.

    python demo/image_demo.py IMAGE CONFIG CHECKPOINT [--dataset NAME]
                              [--out-file OUT] [--device cpu]
                              [--patch-size 1024 --patch-overlap 200]

Every shipped config kind works: S4P (``FixMatchSegmentor``, self or EMA
teacher: it predicts with the model its ``semi_test_cfg.predict_on``
names), single-dataset (SDF) and multi-dataset (MDF / MoE-MDF)
segmentation, SDF and MoE-MDF rotated detection.

- Segmentation (``default_scope='mmseg'``): the predicted mask is blended
  over the image with each class's colour and name (mmseg's
  ``SegLocalVisualizer``).
- Rotated detection (``default_scope='mmrotate'``): rotated boxes with
  class names and scores.
- Multi-dataset models need ``--dataset``: it picks that dataset's expert,
  head, test pipeline, classes and palette (the dataset whose
  ``SetDatasetName`` in the config's test data has that name).
- Large scenes: ``--patch-size`` cuts images larger than it into
  overlapping windows (``--patch-overlap``), ``--batch-size`` windows per
  forward pass. Boxes are merged across windows with rotated NMS; masks are
  stitched. The picture has the scene's size (longer side above
  ``--max-draw-size``: drawn downscaled, said in one log line).

The inference itself lives in ``s5_mm.apis``.
"""
import argparse
import os
import os.path as osp
from typing import Callable, Dict, Optional, Sequence

import cv2
import mmcv
import numpy as np
from mmengine.config import Config
from mmengine.logging import print_log

import s5_mm  # noqa: F401
from s5_mm.apis import (blend_segmentation, downscale_for_drawing,
                        draw_rotated_boxes, inference_detector_large_scene,
                        inference_segmentor_large_scene, init_predictor)
from s5_mm.apis.tool_config import load_tool_config


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='s5_mm image demo')
    parser.add_argument('img', help='image file')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--dataset',
        help='dataset whose expert and head predict (multi-dataset models)')
    parser.add_argument('--out-file', default='demo_result.png',
                        help='where to save the drawn image')
    parser.add_argument('--device', default='cpu', help='e.g. cpu, cuda:0')
    parser.add_argument('--opacity', type=float, default=0.5,
                        help='opacity of the painted mask, in (0, 1]')
    parser.add_argument('--no-labels', action='store_true',
                        help='do not write class names on the mask')
    parser.add_argument('--score-thr', type=float, default=0.3,
                        help='draw boxes scoring at least this (detection)')
    scene = parser.add_argument_group('large scenes')
    scene.add_argument('--patch-size', type=int, default=None,
                       help='patch-wise inference of larger images, e.g. '
                       '1024')
    scene.add_argument('--patch-overlap', type=int, default=200,
                       help='overlap of the patches in pixels')
    scene.add_argument('--batch-size', type=int, default=1,
                       help='patches per forward pass')
    scene.add_argument('--max-draw-size', type=int, default=16384,
                       help='draw scenes with a longer side downscaled to '
                       'this')
    return parser.parse_args(argv)


def load_model_and_data(args: argparse.Namespace, cfg: Config):
    """The model, the chosen dataset's inference pipeline and metainfo, and
    the image (BGR)."""
    model, pipeline, meta, _ = init_predictor(cfg, args.checkpoint,
                                              args.device, args.dataset)
    return model, pipeline, meta, _read(args.img)


def _read(path: str) -> np.ndarray:
    """The image (BGR), decoded by OpenCV from the file itself: unlike
    ``mmcv.imread`` (encoded bytes in memory, then decoded) it never holds
    the file's bytes beside the decoded scene."""
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f'{path} could not be decoded as an image (corrupt, '
                         'truncated or not an image format): check the file')
    return image


def _write(image, out_file: str) -> None:
    """Write atomically: a half-written picture never has the final name."""
    out_dir = osp.dirname(osp.abspath(out_file))
    os.makedirs(out_dir, exist_ok=True)
    root, ext = osp.splitext(out_file)
    tmp = f'{root}.tmp{os.getpid()}{ext}'
    # OpenCV encodes into the file (mmcv.imwrite keeps the encoded picture
    # in memory twice before writing it)
    try:
        written = cv2.imwrite(tmp, image)
    except cv2.error as e:
        raise OSError(f'could not write {out_file} ({e}): check the file '
                      'extension (.png, .jpg, ...)') from e
    if not written:
        raise OSError(f'could not write {out_file}: check the folder')
    os.replace(tmp, out_file)


def segmentation_demo(args: argparse.Namespace, cfg: Config):
    """Predict ``args.img`` with a segmentor and draw the mask.

    Returns:
        SegDataSample: the prediction.
    """
    model, pipeline, meta, image = load_model_and_data(args, cfg)
    if 'palette' not in meta:
        raise KeyError(f'the dataset of --dataset {args.dataset} has no '
                       'palette in its METAINFO')
    result = inference_segmentor_large_scene(
        model, image, pipeline, args.patch_size, args.patch_overlap,
        args.batch_size)
    if args.patch_size is None:
        from mmseg.apis import show_result_pyplot
        model.dataset_meta = dict(classes=meta['classes'],
                                  palette=meta['palette'])
        drawn = show_result_pyplot(
            model, args.img, result, opacity=args.opacity, draw_gt=False,
            show=False, with_labels=not args.no_labels)
        _write(mmcv.rgb2bgr(drawn), args.out_file)
        return result
    labels = result.pred_sem_seg.data[0].numpy()
    image, scale = downscale_for_drawing(image, args.max_draw_size)
    if scale != 1.0:
        labels = mmcv.imresize(labels, image.shape[1::-1],
                               interpolation='nearest')
    _write(blend_segmentation(image, labels, meta['palette'], args.opacity),
           args.out_file)
    return result


def rotated_detection_demo(args: argparse.Namespace, cfg: Config):
    """Predict ``args.img`` with a rotated detector (one dataset's head)
    and draw the rotated boxes.

    Returns:
        DetDataSample: the prediction (boxes in image pixels).
    """
    model, pipeline, meta, image = load_model_and_data(args, cfg)
    result = inference_detector_large_scene(
        model, image, pipeline, args.patch_size, args.patch_overlap,
        batch_size=args.batch_size)
    image, scale = downscale_for_drawing(image, args.max_draw_size)
    _write(draw_rotated_boxes(image, result, meta, args.score_thr, scale),
           args.out_file)
    return result


# default_scope of a config -> its demo
TASKS: Dict[str, Callable] = {
    'mmseg': segmentation_demo,
    'mmrotate': rotated_detection_demo,
}


def main(argv: Optional[Sequence[str]] = None):
    args = parse_args(argv)
    cfg, scope = load_tool_config(
        args.config, TASKS, 'demo',
        dict(image=args.img, config=args.config, checkpoint=args.checkpoint))
    result = TASKS[scope](args, cfg)
    print_log(f'saved {args.out_file}', logger='current')
    return result


if __name__ == '__main__':
    main()
