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


# default_scope of a config -> its demo
TASKS: Dict[str, Callable] = {'mmseg': segmentation_demo}


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
