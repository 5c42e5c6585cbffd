"""Cost of the S4P unlabeled pipeline (weak + strong view) per 512 px JPEG.

Makes its own 512x512 JPEGs from the images in tests/data, then times, on
one thread, in interleaved rounds (so load changes hit all variants alike;
each figure is its least loaded round's mean over the JPEGs). Times are the
process's CPU time (``time.process_time``): with one thread that is the
wall time on an idle core, and on a shared machine it does not count the
waits for a core, which grow with an op's length and skew the ratio:

- decoding alone (``LoadImageFromFile``);
- the S4P ViT-B config's unlabeled pipeline with the present strong-view
  ops (mmpretrain ``ColorJitter`` / ``GaussianBlur``, mmcv
  ``RandomGrayscale``: "before") and with fixmatch_views.py's ("after");
- each photometric op applied (p=1) before / after.

``views_over_decode_512`` = pipeline (after) / decoding; goal <= 4. The last
line printed is a JSON object.

    nice python bench/s4p_views.py [--rounds 5]
"""
import os

os.environ.setdefault('OMP_NUM_THREADS', '1')  # one thread, before imports

import argparse  # noqa: E402
import copy  # noqa: E402
import glob  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.dataset import Compose  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402

import s5_mm  # noqa: E402,F401

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
CONFIG = ('configs/s4p/'
          's4p-fixmatch_vit-b_upernet_8xb12-120k_isaid-rs4p-512x512.py')
PRESENT_OPS = dict(
    colour_jitter=dict(type='mmpretrain.ColorJitter', brightness=0.5,
                       contrast=0.5, saturation=0.5, hue=0.25),
    grayscale=dict(type='RandomGrayscale', prob=1., keep_channels=True,
                   channel_weights=(0.114, 0.587, 0.299)),
    blur=dict(type='mmpretrain.GaussianBlur', magnitude_range=(0.1, 2.0),
              magnitude_level=10, magnitude_std='inf', prob=1.),
)
NEW_OPS = dict(
    colour_jitter=dict(type='AlbuColorJitter', brightness=0.5, contrast=0.5,
                       saturation=0.5, hue=0.25),
    grayscale=dict(type='FastRandomGrayscale', prob=1., keep_channels=True,
                   channel_weights=(0.114, 0.587, 0.299)),
    blur=dict(type='BoxGaussianBlur', sigma_range=(0.1, 2.0), prob=1.),
)
PRESENT_STRONG = [
    dict(type='RandomApply', prob=0.8,
         transforms=[PRESENT_OPS['colour_jitter']]),
    dict(PRESENT_OPS['grayscale'], prob=0.2),
    dict(PRESENT_OPS['blur'], prob=0.5),
    dict(type='PackSegInputs'),
]


def make_jpegs(folder: str) -> list:
    """512x512 JPEGs from every tests/data scene (resized, or tiled 2x2)."""
    sources = sorted(glob.glob(os.path.join(ROOT, 'tests/data/unlabeled/**/'
                                            '*.jpg'), recursive=True))
    sources.append(
        os.path.join(ROOT, 'tests/data/isaid_raw/train/images/P0005.png'))
    paths = []
    for index, source in enumerate(sources):
        img = cv2.imread(source)
        if min(img.shape[:2]) < 512:  # small scenes: tile, then fit
            img = np.concatenate([np.concatenate([img, img[:, ::-1]], 1)] * 2)
        img = cv2.resize(img, (512, 512), interpolation=cv2.INTER_AREA)
        paths.append(os.path.join(folder, f'{index:03d}.jpg'))
        cv2.imwrite(paths[-1], img, [cv2.IMWRITE_JPEG_QUALITY, 95])
    return paths


def _unlabeled_pipelines() -> tuple:
    """(decode, before, after) pipelines of the S4P config."""
    cfg = Config.fromfile(os.path.join(ROOT, CONFIG))
    after = cfg.train_dataloader.dataset.datasets[1].pipeline
    before = copy.deepcopy(after)
    branch = before[-1]
    assert branch['type'] == 'mmdet.MultiBranch', branch
    for key in branch:
        if key.startswith('unsup_student'):
            branch[key] = copy.deepcopy(PRESENT_STRONG)
    return Compose([after[0]]), Compose(before), Compose(after)


def _ms_per_image(transform, inputs, seed: int) -> float:
    np.random.seed(seed)
    random.seed(seed)
    start = time.process_time()
    for item in inputs:
        transform(copy.copy(item))
    return (time.process_time() - start) / len(inputs) * 1e3


def measure_views(rounds: int = 5) -> dict:
    """Per-image costs on one thread, before / after; see the module doc.

    Args:
        rounds (int): Interleaved timing rounds (each over all JPEGs).

    Returns:
        dict: ``views_over_decode_512`` (after), its value before, the
        decode / pipeline ms per image and ``ops_ms`` (op -> before/after).
    """
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    init_default_scope('mmseg')
    from mmseg.registry import TRANSFORMS
    with tempfile.TemporaryDirectory() as folder:
        paths = make_jpegs(folder)
        files = [dict(img_path=p, seg_map_path=None, reduce_zero_label=False,
                      seg_fields=[]) for p in paths]
        decode, before, after = _unlabeled_pipelines()
        images = [dict(img=cv2.imread(p)) for p in paths]
        ops = {(name, when): TRANSFORMS.build(spec)
               for when, table in (('before', PRESENT_OPS), ('after', NEW_OPS))
               for name, spec in table.items()}
        totals = {}
        with warnings.catch_warnings():
            # the present jitter warns once per image; not timed as output
            warnings.simplefilter('ignore')
            for rnd in range(rounds + 1):  # round 0 warms up, not counted
                runs = [('decode', decode, files),
                        ('pipeline_before', before, files),
                        ('pipeline_after', after, files)]
                runs += [(f'{name}_{when}', op, images)
                         for (name, when), op in ops.items()]
                for key, transform, inputs in runs:
                    ms = _ms_per_image(transform, inputs, seed=rnd)
                    if rnd:  # the least loaded round (timeit's rule)
                        totals[key] = min(totals.get(key, ms), ms)
    ms = {key: round(value, 2) for key, value in totals.items()}
    return dict(
        views_over_decode_512=round(ms['pipeline_after'] / ms['decode'], 2),
        views_over_decode_512_before=round(
            ms['pipeline_before'] / ms['decode'], 2),
        decode_ms=ms['decode'],
        pipeline_ms=dict(before=ms['pipeline_before'],
                         after=ms['pipeline_after']),
        ops_ms={name: dict(before=ms[f'{name}_before'],
                           after=ms[f'{name}_after'])
                for name in PRESENT_OPS},
        images=len(paths), threads=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--rounds', type=int, default=5)
    args = parser.parse_args()
    result = measure_views(args.rounds)
    for name, costs in result['ops_ms'].items():
        print(f'{name:14s} {costs["before"]:8.2f} ms -> '
              f'{costs["after"]:6.2f} ms per 512 px image (applied)')
    print(f'decode {result["decode_ms"]} ms; unlabeled pipeline '
          f'{result["pipeline_ms"]["before"]} -> '
          f'{result["pipeline_ms"]["after"]} ms per image')
    print(json.dumps(result))


if __name__ == '__main__':
    main()
