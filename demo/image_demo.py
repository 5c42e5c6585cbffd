"""Run a trained s5_mm (or plain mmseg) model on one image and save the
image with the prediction overlaid.

    python demo/image_demo.py IMAGE CONFIG CHECKPOINT [--dataset NAME]
                              [--out-file OUT] [--device cpu]

Segmentation (configs with ``default_scope='mmseg'``): the predicted mask
is blended over the image with each class's colour and name (mmseg's
``SegLocalVisualizer``). A multi-dataset model (MDF / MoE-MDF) needs
``--dataset``: it picks that dataset's expert, head, test pipeline, classes
and palette (the dataset whose ``SetDatasetName`` in the config's test data
has that name). A single-dataset model needs no ``--dataset``.

Rotated detection (configs with ``default_scope='mmrotate'``, e.g.
configs/mdf/*oriented-rcnn*): rotated boxes with class names and scores
(mmrotate's ``RotLocalVisualizer``); ``--dataset`` picks the expert, RPN/RoI
head and classes of a multi-dataset detector. Large scenes: ``--patch-size
1024`` cuts the image into overlapping windows (``--patch-overlap``) whose
boxes are merged with rotated NMS.

Other tasks plug in through ``TASKS`` (config ``default_scope`` -> demo
function taking the parsed args and the config).
"""
import argparse
import os.path as osp
from typing import Callable, Dict, Optional, Sequence

from mmengine.config import Config
from mmengine.registry import init_default_scope

import s5_mm  # noqa: F401
from s5_mm.engine.runner import find_dataset_cfg, pipeline_dataset_name


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
    # rotated detection (default_scope 'mmrotate')
    det = parser.add_argument_group('rotated detection')
    det.add_argument('--score-thr', type=float, default=0.3,
                     help='draw boxes scoring at least this')
    det.add_argument('--patch-size', type=int, default=None,
                     help='patch-wise inference of larger images, e.g. 1024')
    det.add_argument('--patch-overlap', type=int, default=200,
                     help='overlap of the patches in pixels')
    return parser.parse_args(argv)


def select_dataset(cfg: Config, model_names: Optional[Sequence[str]],
                   dataset: Optional[str]) -> dict:
    """The test dataset config the demo uses: ``dataset`` of a multi-dataset
    config, else the config's only test dataset."""
    test_data = cfg.test_dataloader.dataset
    if model_names and len(model_names) > 1 and dataset is None:
        raise ValueError(
            f'this model predicts for several datasets {list(model_names)}: '
            'choose one with --dataset NAME')
    if dataset is not None:
        if model_names is not None and dataset not in model_names:
            raise ValueError(f"--dataset '{dataset}' is not one of the "
                             f"model's datasets {list(model_names)}")
        return find_dataset_cfg(test_data, dataset)
    if 'datasets' in test_data:
        return test_data.datasets[0]
    return test_data


def dataset_meta(dataset_cfg: dict) -> dict:
    """Classes and palette of a dataset config (its class's METAINFO with the
    config's ``metainfo`` on top), without reading any data."""
    from mmseg.registry import DATASETS
    dataset_cls = DATASETS.get(dataset_cfg['type'])
    if dataset_cls is None:
        raise KeyError(f"unknown dataset type {dataset_cfg['type']!r}")
    meta = dict(getattr(dataset_cls, 'METAINFO', {}))
    meta.update(dataset_cfg.get('metainfo') or {})
    return meta


def segmentation_demo(args: argparse.Namespace, cfg: Config):
    """Predict ``args.img`` with an mmseg / s5_mm segmentor and draw it.

    Returns:
        SegDataSample: the prediction.
    """
    from mmseg.apis import inference_model, init_model, show_result_pyplot

    model = init_model(cfg, args.checkpoint, device=args.device)
    names = getattr(model, 'dataset_names', None)
    dataset_cfg = select_dataset(cfg, names, args.dataset)
    pipeline = list(dataset_cfg['pipeline'])
    if names is not None and pipeline_dataset_name(pipeline) is None:
        name = args.dataset or names[0]
        pipeline.append(dict(type='SetDatasetName', name=name))
    # mmseg's inference_model reads model.cfg.test_pipeline (and drops
    # LoadAnnotations itself)
    model.cfg.test_pipeline = pipeline
    meta = dataset_meta(dataset_cfg)
    if 'classes' not in meta or 'palette' not in meta:
        raise KeyError(f"dataset {dataset_cfg['type']} has no classes / "
                       'palette in its METAINFO')
    model.dataset_meta = dict(classes=meta['classes'], palette=meta['palette'])
    result = inference_model(model, args.img)
    show_result_pyplot(
        model,
        args.img,
        result,
        opacity=args.opacity,
        draw_gt=False,
        show=False,
        with_labels=not args.no_labels,
        out_file=args.out_file)
    return result


# ---------------------------------------------------------------------------
# Rotated detection (issue 6)
def rotated_detection_demo(args: argparse.Namespace, cfg: Config):
    """Predict ``args.img`` with an mmrotate / s5_mm rotated detector (one
    dataset's head) and draw the rotated boxes.

    Returns:
        DetDataSample: the prediction (boxes in image pixels).
    """
    from s5_mm.models.detectors import rotated_inference

    model = rotated_inference.init_rotated_detector(
        cfg, args.checkpoint, device=args.device)
    names = getattr(model, 'dataset_names', None)
    dataset = args.dataset
    if dataset is None and names is not None and len(names) == 1:
        dataset = names[0]
    if dataset is not None and names is not None and dataset not in names:
        raise ValueError(f"--dataset '{dataset}' is not one of the "
                         f"model's datasets {list(names)}")
    return rotated_inference.rotated_detection_demo(
        model, cfg, args.img, dataset, out_file=args.out_file,
        score_thr=args.score_thr, patch_size=args.patch_size,
        patch_overlap=args.patch_overlap)


# ---------------------------------------------------------------------------
# default_scope of a config -> its demo
TASKS: Dict[str, Callable] = {
    'mmseg': segmentation_demo,
    'mmrotate': rotated_detection_demo,
}


def main(argv: Optional[Sequence[str]] = None):
    args = parse_args(argv)
    for path, what in ((args.img, 'image'), (args.config, 'config'),
                       (args.checkpoint, 'checkpoint')):
        if not osp.isfile(path):
            raise FileNotFoundError(f'{what} file not found: {path}')
    cfg = Config.fromfile(args.config)
    scope = cfg.get('default_scope', 'mmseg')
    if scope not in TASKS:
        raise NotImplementedError(
            f"no demo for configs with default_scope '{scope}' (known: "
            f'{sorted(TASKS)})')
    init_default_scope(scope)
    result = TASKS[scope](args, cfg)
    print(f'saved {args.out_file}')
    return result


if __name__ == '__main__':
    main()
