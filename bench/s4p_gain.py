"""Does S4P (FixMatch) improve a model? A CPU semi-supervised benchmark.

Two tasks, each built by this script from scratch, deterministic:

* ``synthetic``: 32x32 scenes of a textured background (the majority
  class, ~86% of the pixels) with buildings (striped rectangles), roads
  (smooth bars) and water (dark disks), the three minority classes. Every
  scene has a *style* s in [0, 1] that rotates all colours around the grey
  axis (up to 160 degrees) and darkens them: the labeled images (16) have
  s <= 0.25, the unlabeled (384) and test (192) images s ~ U(0, 1). The
  labeled set thus covers only part of the appearance variation.
* ``real``: 32x32 tiles of the three bundled LoveDA crops
  (``tests/data/loveda``, reduced from 1024 to 256 px): a checkerboard
  quarter of the tiles is the test set (48), 4 tiles per crop are labeled
  (12), the rest unlabeled (132).

Arms, each over the same seeds (20 by default): a supervised warm-up
(``EncoderDecoder``, 300 iterations) on the labeled set, then from its
checkpoint, for the same 60 iterations and the same labeled batches (one
``MultiSourceSampler`` stream, identical in every arm):

* ``supervised``: ``FixMatchSegmentor`` with ``unsup_weight=0`` (its BN
  statistics see the strong unlabeled views as in every arm, so a gain is
  the pseudo-label loss's alone);
* ``fixmatch``: the paper's recipe (self teacher, tau 0.95, CutMix 0.5);
* ``class_weight``: class-frequency weights of the unsupervised loss
  (``class_weight_power=0.5``);
* ``full`` (not run by default): the supervised arm with every training
  image labeled (the upper bound; synthetic task only).

All arms are mmengine ``Runner`` runs of Config objects generated from the
shipped S4P demo config (``configs/demo/s4p-fixmatch_...py``) with a small
UNet instead of the tiny ViT. Two choices differ from mmseg / the demo:
the UNet's head keeps PyTorch's default init of ``conv_seg`` (mmseg's
N(0, 0.01) left every arm, even ``full``, predicting background only), and
the strong view's blur sigma is scaled by 32 / 512 (``--blur-ref``).

Runs are deterministic on one machine and thread count, but another float
order (another CPU, oneDNN version or ``--threads``) moves single runs by
several mIoU. So the claims are paired gains (arm minus ``supervised`` of
the same seed and warm-up) over the seeds, each with its mean, 95% t and
bootstrap intervals, the 95% rerun interval (where the mean of a rerun
on another machine lands: ``mean +- t sd sqrt(2/n)``), the share of seeds
the arm wins, for the mIoU, the minority classes and every class
(``bench/paired_stats.py``). A sensitivity
probe reruns every arm of ``--probe-seeds`` from the warm-up weights moved
by one ulp (``torch.nextafter``): how far each arm moves is the noise
floor. The JSON (last line) holds the machine (CPU model, torch and oneDNN
versions, threads, deterministic-algorithms mode) and the headline keys
``fixmatch_gain_mean/ci/rerun``, ``class_weight_gain_mean/ci/rerun``,
``class_weight_minority_gain_ci/rerun``, ``class_weight_vs_fixmatch_gain_*``,
``real_best_gain_ci/rerun``, ``seeds``, ``noise_floor``; for the synthetic task also the accuracy of the teacher's
confident pseudo-labels against the true labels and their minority share
at 5 points of training, and ``unsup_conf_ratio`` over time.

    python bench/s4p_gain.py                 # both tasks, 20 seeds
    # another float order; PASSIVE: on a busy machine spinning OpenMP
    # threads made a 2-thread warm-up 6x slower (202 s against 32 s)
    OMP_WAIT_POLICY=PASSIVE python bench/s4p_gain.py --threads 2 \
        --work-dir work_dirs/s4p_gain_t2
    python bench/s4p_gain.py --tasks synthetic --seeds 0 --probe-seeds
    # one process per seed range, then summarise (the last line is the JSON)
    python bench/s4p_gain.py --seeds 0 1 2 3 4 --reuse &
    python bench/s4p_gain.py --reuse

Cost: 969 s of one core for the default run (20 seeds; 1784 s of CPU over
two threads for the ``--threads 2`` rerun; docs/s4p.md). Per-seed raw
results go to ``<work-dir>/<task>/seed<k>/results.json``; use another
``--work-dir`` for a rerun with other threads. Numbers and logs: docs/s4p.md,
``bench/results/s4p_gain*.log`` / ``.json``.
"""
import argparse
import copy
import json
import os
import os.path as osp
import shutil
import sys
import time
from typing import Dict, List, Optional

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmseg.evaluation import IoUMetric

import s5_mm  # noqa: F401
from s5_mm.models.segmentors.fixmatch_segmentor import decode_logits

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from paired_stats import (machine_record, one_ulp_up,  # noqa: E402
                          paired_summary)

DEMO_CFG = ('configs/demo/s4p-fixmatch_vit-tiny_1xb2+2-60iter_'
            'loveda-sample-unlabeled-64x64.py')
ARMS = {
    'supervised': dict(unsup_weight=0.0),
    'fixmatch': dict(),
    'class_weight': dict(class_weight_power=0.5),
    'full': dict(unsup_weight=0.0),
}
OPTIONS = ['class_weight']
SYNTH_CLASSES = ('background', 'building', 'road', 'water')
SYNTH_PALETTE = [[110, 140, 80], [170, 110, 90], [150, 150, 150],
                 [50, 80, 140]]


# ------------------------------------------------------------------ tasks
def _style_colours(style: float) -> np.ndarray:
    """Class colours (RGB) rotated around the grey axis by 160 deg * s."""
    theta = np.deg2rad(160.0 * style)
    axis = np.ones(3) / np.sqrt(3)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]],
                  [-axis[1], axis[0], 0]])
    rot = np.eye(3) + np.sin(theta) * k + (1 - np.cos(theta)) * k @ k
    base = np.asarray(SYNTH_PALETTE, dtype=np.float64)
    grey = base.mean(axis=1, keepdims=True)
    return ((base - grey) @ rot.T * 1.3 + grey) * (1 - 0.35 * style)


def synth_scene(rng: np.random.RandomState, style: float, size: int = 32):
    """One synthetic scene: RGB uint8 image and uint8 label map."""
    label = np.zeros((size, size), np.uint8)
    yy, xx = np.mgrid[:size, :size]
    for _ in range(rng.randint(1, 3)):  # buildings
        h, w = rng.randint(4, 9, size=2)
        y, x = rng.randint(0, size - h), rng.randint(0, size - w)
        label[y:y + h, x:x + w] = 1
    if rng.rand() < 0.8:  # one road, horizontal or vertical
        pos, width = rng.randint(3, size - 6), rng.randint(2, 4)
        if rng.rand() < 0.5:
            label[pos:pos + width] = 2
        else:
            label[:, pos:pos + width] = 2
    if rng.rand() < 0.6:  # water
        cy, cx, r = rng.randint(6, size - 6), rng.randint(6, size - 6), \
            rng.randint(3, 6)
        label[(yy - cy)**2 + (xx - cx)**2 <= r * r] = 3
    colours = _style_colours(style)
    img = colours[label]
    noise = rng.randn(size // 4, size // 4, 1)
    noise = cv2.resize(noise, (size, size), interpolation=cv2.INTER_CUBIC)
    img += (label == 0)[..., None] * noise[..., None] * 18  # bg texture
    stripes = ((xx + yy) // 2 % 2 == 0) & (label == 1)
    img[stripes] *= 0.7  # building texture
    img += rng.randn(size, size, 3) * 6
    return np.clip(img, 0, 255).astype(np.uint8), label


def make_synthetic(root: str, num_labeled: int = 16,
                   num_unlabeled: int = 384, num_test: int = 192) -> None:
    """Write the synthetic task (img_dir / ann_dir, PNG) under ``root``."""
    rng = np.random.RandomState(2024)
    splits = [('labeled', num_labeled, 0.25), ('unlabeled', num_unlabeled,
                                                 1.0), ('test', num_test, 1.0)]
    for split, num, max_style in splits:
        for sub in ('img_dir', 'ann_dir'):
            os.makedirs(osp.join(root, sub, split), exist_ok=True)
        for i in range(num):
            img, label = synth_scene(rng, rng.uniform(0, max_style))
            name = f'{split}_{i:04d}.png'
            cv2.imwrite(osp.join(root, 'img_dir', split, name), img[..., ::-1])
            cv2.imwrite(osp.join(root, 'ann_dir', split, name), label)


def make_real(root: str, src: str = 'tests/data/loveda',
              tile: int = 32) -> List[str]:
    """Tiles of the bundled LoveDA crops (1024 px, reduced to 256 px):
    checkerboard test quarter, 4 labeled tiles per crop, the rest
    unlabeled. Returns the class names."""
    from mmseg.datasets import LoveDADataset
    for split in ('labeled', 'unlabeled', 'test'):
        for sub in ('img_dir', 'ann_dir'):
            os.makedirs(osp.join(root, sub, split), exist_ok=True)
    rng = np.random.RandomState(7)
    names = sorted(os.listdir(osp.join(src, 'img_dir')))
    if not names:
        raise FileNotFoundError(f'no LoveDA crops under {src}/img_dir')
    for name in names:
        img = cv2.imread(osp.join(src, 'img_dir', name))
        ann = cv2.imread(osp.join(src, 'ann_dir', name), cv2.IMREAD_GRAYSCALE)
        if img is None or ann is None:
            raise FileNotFoundError(f'cannot read {src}/*/{name}')
        small = (img.shape[1] // 4, img.shape[0] // 4)
        img = cv2.resize(img, small, interpolation=cv2.INTER_AREA)
        ann = cv2.resize(ann, small, interpolation=cv2.INTER_NEAREST)
        # LoveDA: 0 = no-data, 1..7 = classes (reduce_zero_label)
        ann = np.where(ann == 0, 255, ann.astype(np.int64) - 1).astype(
            np.uint8)
        n_y, n_x = ann.shape[0] // tile, ann.shape[1] // tile
        train = [(r, c) for r in range(n_y) for c in range(n_x)
                 if (r % 2, c % 2) != (1, 1)]
        labeled = {train[i] for i in rng.choice(len(train), 4, replace=False)}
        for r in range(n_y):
            for c in range(n_x):
                split = ('test' if (r % 2, c % 2) == (1, 1) else
                         'labeled' if (r, c) in labeled else 'unlabeled')
                out = f'{osp.splitext(name)[0]}_{r}_{c}.png'
                box = np.s_[r * tile:(r + 1) * tile, c * tile:(c + 1) * tile]
                cv2.imwrite(osp.join(root, 'img_dir', split, out), img[box])
                cv2.imwrite(osp.join(root, 'ann_dir', split, out), ann[box])
    return list(LoveDADataset.METAINFO['classes'])


# ---------------------------------------------------------------- configs
def small_unet(num_classes: int, width: int = 8) -> dict:
    """A small mmseg UNet (``width`` base channels, 2 down-samplings) + FCN
    head."""
    norm = dict(type='BN', requires_grad=True)
    return dict(
        type='EncoderDecoder',
        backbone=dict(
            type='UNet', in_channels=3, base_channels=width, num_stages=3,
            strides=(1, 1, 1), enc_num_convs=(2, 2, 2), dec_num_convs=(2, 2),
            downsamples=(True, True), enc_dilations=(1, 1, 1),
            dec_dilations=(1, 1), norm_cfg=norm,
            upsample_cfg=dict(type='InterpConv')),
        decode_head=dict(
            type='FCNHead', in_channels=width, in_index=2, channels=width,
            num_convs=1, concat_input=False, dropout_ratio=0.0,
            num_classes=num_classes, norm_cfg=norm, align_corners=False,
            # mmseg's default head init (conv_seg ~ N(0, 0.01)) leaves this
            # small UNet predicting background only after hundreds of
            # iterations (test mIoU 21.6 = background alone); PyTorch's
            # default init of conv_seg learns all four classes
            init_cfg=None,
            loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False,
                             loss_weight=1.0)),
        train_cfg=dict(), test_cfg=dict(mode='whole'))


def scale_blur(strong_pipeline: list, size: int, ref: int) -> None:
    """Scale the strong view's Gaussian blur sigma by ``size / ref``, in place.

    The paper's blur, sigma ~ U(0.1, 2.0), is meant for 512 px crops; on a
    32 px image it wipes out 2-3 px roads and the buildings' 2 px stripes.
    ``ref=0`` keeps the config's sigma unchanged.
    """
    if ref == 0:
        return
    blurs = [t for t in strong_pipeline if t['type'] == 'BoxGaussianBlur']
    if len(blurs) != 1:
        raise KeyError('scale_blur: expected one BoxGaussianBlur in '
                       f'the strong pipeline, got {len(blurs)}; pass '
                       '--blur-ref 0 to keep the config as it is')
    low, high = blurs[0]['sigma_range']
    blurs[0]['sigma_range'] = (low * size / ref, high * size / ref)


GEOMETRY = ('RandomResize', 'RandomCrop', 'RandomFlip', 'RandomRotate',
            'Resize')


def with_geometry(pipeline: list, geometric: list) -> list:
    """``pipeline`` with its geometric transforms (``GEOMETRY``) replaced
    by ``geometric``, placed where the first of them was; the loaders, the
    packing and the S4P views are kept as the config has them."""
    at = [i for i, t in enumerate(pipeline) if t['type'] in GEOMETRY]
    if not at:
        raise KeyError('with_geometry: the demo pipeline has none of '
                       f'{GEOMETRY}: {[t["type"] for t in pipeline]}; '
                       'update bench/s4p_gain.py to the config')
    kept = [copy.deepcopy(t) for t in pipeline if t['type'] not in GEOMETRY]
    return kept[:at[0]] + list(geometric) + kept[at[0]:]


def _dataset(root: str, split: str, meta: dict, pipeline: list) -> dict:
    return dict(type='BaseSegDataset', data_root=root, metainfo=meta,
                data_prefix=dict(img_path=f'img_dir/{split}',
                                 seg_map_path=f'ann_dir/{split}'),
                img_suffix='.png', seg_map_suffix='.png', pipeline=pipeline)


def build_cfg(task: dict, work_dir: str, seed: int, iters: int,
              arm: Optional[str], load_from: Optional[str],
              args) -> Config:
    """A Runner config from the S4P demo config: the warm-up (``arm=None``:
    supervised ``EncoderDecoder``) or one FixMatch arm."""
    cfg = Config.fromfile(DEMO_CFG)
    size = task['size']
    meta = dict(classes=task['classes'], palette=task['palette'])
    seg = small_unet(len(task['classes']), args.width)
    seg['data_preprocessor'] = copy.deepcopy(cfg.model.segmentor
                                             .data_preprocessor)
    seg['data_preprocessor']['size'] = (size, size)
    geometric = [dict(type='RandomFlip', prob=0.5, direction='horizontal'),
                 dict(type='RandomFlip', prob=0.5, direction='vertical')]
    root = task['root']
    if arm is None:
        pipeline = [dict(type='LoadImageFromFile'),
                    dict(type='LoadAnnotations'), *geometric,
                    dict(type='PackSegInputs')]
        cfg.model = seg
        cfg.train_dataloader = dict(
            batch_size=args.batch, num_workers=0, persistent_workers=False,
            sampler=dict(type='InfiniteSampler', shuffle=True),
            dataset=_dataset(root, 'labeled', meta, pipeline))
    else:
        cfg.model.segmentor = seg
        cfg.model.data_preprocessor.data_preprocessor = copy.deepcopy(
            seg['data_preprocessor'])
        cfg.model.semi_train_cfg = dict(
            teacher='self', conf_thr=0.95, class_stats_momentum=0.99,
            **ARMS[arm])
        labeled, unlabeled = cfg.train_dataloader.dataset.datasets
        labeled_pipeline = with_geometry(labeled.pipeline, geometric)
        labeled_pipeline[1] = dict(type='LoadAnnotations')
        unlabeled_pipeline = with_geometry(unlabeled.pipeline, geometric)
        scale_blur(unlabeled_pipeline[-1].unsup_student, size, args.blur_ref)
        lab = _dataset(root, 'labeled', meta, labeled_pipeline)
        if arm == 'full':  # labeled + unlabeled, both with their labels
            lab = dict(type='ConcatDataset', datasets=[
                _dataset(root, s, meta, labeled_pipeline)
                for s in ('labeled', 'unlabeled')])
        cfg.train_dataloader.batch_size = 2 * args.batch
        cfg.train_dataloader.sampler.batch_size = 2 * args.batch
        cfg.train_dataloader.dataset.datasets = [
            lab,
            dict(type='UnlabeledImageDataset', data_root=root, ann_file='',
                 data_prefix=dict(img_path='img_dir/unlabeled'),
                 pipeline=unlabeled_pipeline)]
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.test_cfg = cfg.test_dataloader = cfg.test_evaluator = None
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=iters,
                         val_interval=iters + 1)
    cfg.param_scheduler = [dict(type='CosineAnnealingLR', eta_min=0.0,
                                begin=0, end=iters, by_epoch=False)]
    cfg.optim_wrapper.optimizer.lr = args.lr if arm is None else args.arm_lr
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=False,
                                        interval=iters, save_last=True)
    cfg.default_hooks.logger.interval = 50
    cfg.default_hooks.visualization = dict(type='SegVisualizationHook')
    cfg.custom_hooks = []
    cfg.log_level = 'WARNING'
    cfg.randomness = dict(seed=seed, deterministic=args.deterministic)
    cfg.work_dir = work_dir
    cfg.load_from = load_from
    cfg.visualizer.name = f'vis_{osp.basename(work_dir)}'
    cfg.visualizer.vis_backends = []
    return cfg


# ------------------------------------------------------------ measurement
def _load_split(root: str, split: str, mean, std, limit: int):
    names = sorted(os.listdir(osp.join(root, 'img_dir', split)))[:limit]
    imgs, labels = [], []
    for name in names:
        img = cv2.imread(osp.join(root, 'img_dir', split, name))[..., ::-1]
        imgs.append(torch.from_numpy(np.ascontiguousarray(img)))
        labels.append(torch.from_numpy(cv2.imread(
            osp.join(root, 'ann_dir', split, name), cv2.IMREAD_GRAYSCALE)))
    x = torch.stack(imgs).permute(0, 3, 1, 2).float()
    x = (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(
        1, 3, 1, 1)
    return x, torch.stack(labels).long()


class PseudoLabelProbe(Hook):
    """At 5 points of training: the teacher's pseudo-labels on unlabeled
    images against their true labels (accuracy of the confident ones, their
    share of the valid pixels, the minority share among them)."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor,
                 iters: int) -> None:
        self.images, self.labels = images, labels
        self.points = {round(iters * f) for f in (0.0, 0.25, 0.5, 0.75)} | {
            iters - 1}
        self.records: List[dict] = []

    @torch.no_grad()
    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        if runner.iter not in self.points:
            return
        model = runner.model
        net = model.teacher if hasattr(model, 'teacher') else model.student
        was = net.training
        net.eval()
        probs = decode_logits(net, self.images).softmax(1)
        net.train(was)
        conf, label = probs.max(1)
        thr = model.semi_train_cfg['conf_thr']
        keep = (conf >= thr) & (self.labels != 255)
        n = keep.sum().clamp(min=1)
        self.records.append(dict(
            iter=runner.iter + 1,
            pl_acc=round(float((label == self.labels)[keep].sum() / n), 4),
            conf_ratio=round(float(keep.float().mean()), 4),
            minority_share=round(float((label[keep] != 0).sum() / n), 4)))


def evaluate(model, root: str, num_classes: int, mean, std) -> np.ndarray:
    """Per-class IoU (x100) of ``model`` on the test split (mmseg's
    ``IoUMetric.intersect_and_union``)."""
    x, y = _load_split(root, 'test', mean, std, 10**6)
    model.eval()
    net = model.teacher if getattr(model, 'semi_test_cfg', {}).get(
        'predict_on') == 'teacher' else getattr(model, 'student', model)
    inter = union = 0
    with torch.no_grad():
        for i in range(0, len(x), 64):
            pred = decode_logits(net, x[i:i + 64]).argmax(1)
            for p, t in zip(pred, y[i:i + 64]):
                a, u, _, _ = IoUMetric.intersect_and_union(p, t, num_classes,
                                                          255)
                inter, union = inter + a, union + u
    return (inter / union.clamp(min=1)).numpy() * 100


def run(cfg: Config, probe: Optional[Hook] = None):
    init_default_scope('mmseg')
    runner = Runner.from_cfg(cfg)
    if probe is not None:
        runner.register_hook(probe, priority='LOWEST')
    runner.train()
    return runner


def _conf_ratio_curve(runner, points: int = 5) -> List[float]:
    scalars = runner.message_hub.log_scalars
    if 'train/unsup_conf_ratio' not in scalars:
        return []
    values = scalars['train/unsup_conf_ratio'].data[0]
    points = min(points, len(values))
    return [round(float(c.mean()), 4) for c in np.array_split(values, points)]


def _load_seed(work_dir: str) -> dict:
    path = osp.join(work_dir, 'results.json')
    if not osp.isfile(path):
        return {}
    with open(path) as f:
        return json.load(f)


def _save_seed(work_dir: str, done: dict) -> None:
    """Per-seed raw results, merged with what other processes wrote and
    written atomically (tmp + os.replace)."""
    path = osp.join(work_dir, 'results.json')
    merged = dict(_load_seed(work_dir), **done)
    tmp = f'{path}.tmp{os.getpid()}'
    with open(tmp, 'w') as f:
        json.dump(merged, f)
    os.replace(tmp, path)


def perturbed_checkpoint(ckpt: str, out: str) -> str:
    """``ckpt`` with every floating-point weight moved by one ulp (a
    stand-in for another machine's float order), written to ``out``."""
    state = torch.load(ckpt, map_location='cpu', weights_only=False)
    state['state_dict'] = one_ulp_up(state['state_dict'])
    torch.save(state, out)
    return out


def _run_arm(task: dict, wd: str, seed: int, arm: str, ckpt: str, args,
             probe_data, n_cls: int, mean, std, logger, tag: str) -> dict:
    t0 = time.time()
    probe = PseudoLabelProbe(*probe_data, args.iters)
    runner = run(build_cfg(task, wd, seed, args.iters, arm, ckpt, args), probe)
    iou = evaluate(runner.model, task['root'], n_cls, mean, std)
    logger.warning(f'{tag}: mIoU {iou.mean():.2f} IoU '
                   f'{np.round(iou, 1).tolist()} ({time.time() - t0:.0f}s)')
    return dict(iou=iou.tolist(), probe=probe.records,
                curve=_conf_ratio_curve(runner))


def bench_task(name: str, task: dict, args, logger) -> dict:
    """All seeds of one task (and the one-ulp probe): raw per-seed IoU."""
    mean = [123.675, 116.28, 103.53]
    std = [58.395, 57.12, 57.375]
    n_cls = len(task['classes'])
    arms = args.arms if name == 'synthetic' else args.real_arms
    if 'supervised' not in arms:
        raise ValueError(f'--arms / --real-arms of {name}: the gains are '
                         "paired against 'supervised'; include it")
    probe_data = _load_split(task['root'], 'unlabeled', mean, std, 64)
    per_seed = []
    for seed in args.seeds:
        wd = osp.join(args.work_dir, name, f'seed{seed}')
        done = _load_seed(wd) if args.reuse else {}
        ckpt = osp.join(wd, 'warmup', f'iter_{args.warmup_iters}.pth')
        ulp = seed in args.probe_seeds and name in args.probe_tasks
        todo = [a for a in arms if a not in done] + [
            f'{a}@ulp' for a in arms if ulp and f'{a}@ulp' not in done]
        if todo and not (args.reuse and osp.isfile(ckpt)):
            t0 = time.time()
            run(build_cfg(task, osp.join(wd, 'warmup'), seed,
                          args.warmup_iters, None, None, args))
            logger.warning(
                f'{name} seed {seed}: warm-up {time.time() - t0:.0f}s')
        for key in todo:
            arm, perturbed = key.split('@')[0], key.endswith('@ulp')
            start = ckpt if not perturbed else perturbed_checkpoint(
                ckpt, osp.join(wd, 'warmup', 'ulp.pth'))
            done[key] = _run_arm(task, osp.join(wd, key.replace('@', '_')),
                                 seed, arm, start, args, probe_data, n_cls,
                                 mean, std, logger,
                                 f'{name} seed {seed} {key}')
            _save_seed(wd, done)
        per_seed.append(dict(seed=seed, **done))
    return summarise(name, per_seed, arms, args)


def summarise(name: str, per_seed: List[dict], arms: List[str],
              args) -> dict:
    """Per-arm mIoU, paired gains over ``supervised`` with intervals (mIoU,
    minority classes, each class), the one-ulp sensitivity."""
    iou = {a: np.array([s[a]['iou'] for s in per_seed]) for a in arms}
    sup = iou['supervised']
    out = dict(
        seeds=[s['seed'] for s in per_seed],
        arms={a: dict(miou_per_seed=np.round(iou[a].mean(1), 2).tolist(),
                      miou_mean=round(float(iou[a].mean()), 2),
                      per_class_iou=np.round(iou[a].mean(0), 2).tolist())
              for a in arms},
        gains={a: dict(
            miou=paired_summary(iou[a].mean(1) - sup.mean(1)),
            minority=paired_summary(iou[a][:, 1:].mean(1) -
                                    sup[:, 1:].mean(1)),
            per_class=[paired_summary(iou[a][:, k] - sup[:, k])
                       for k in range(sup.shape[1])])
            for a in arms if a != 'supervised'})
    if 'fixmatch' in arms:  # an option against the paper's recipe
        fm = iou['fixmatch']
        out['options_vs_fixmatch'] = {a: dict(
            miou=paired_summary(iou[a].mean(1) - fm.mean(1)),
            minority=paired_summary(iou[a][:, 1:].mean(1) -
                                    fm[:, 1:].mean(1)),
            per_class=[paired_summary(iou[a][:, k] - fm[:, k])
                       for k in range(fm.shape[1])])
            for a in arms if a in OPTIONS}
    sens = {}
    for s in per_seed:
        if not all(f'{a}@ulp' in s for a in arms):
            continue
        moved = {a: float(np.mean(s[f'{a}@ulp']['iou']) -
                          np.mean(s[a]['iou'])) for a in arms}
        sens[f'seed{s["seed"]}'] = dict(
            miou_moved={a: round(v, 2) for a, v in moved.items()},
            gain_moved={a: round(moved[a] - moved['supervised'], 2)
                        for a in arms if a != 'supervised'},
            miou_ulp={a: round(float(np.mean(s[f'{a}@ulp']['iou'])), 2)
                      for a in arms})
    out['sensitivity'] = sens
    if sens:
        out['noise_floor'] = round(max(
            abs(v) for r in sens.values()
            for v in [*r['miou_moved'].values(), *r['gain_moved'].values()]),
            2)
    curves = {a: [s[a]['curve'] for s in per_seed if s[a]['curve']]
              for a in arms}
    out['unsup_conf_ratio'] = {a: np.round(np.mean(c, 0), 4).tolist()
                               for a, c in curves.items() if c}
    if name == 'synthetic':
        out['pseudo_labels'] = {
            a: [dict(iter=r[0]['iter'], **{
                k: round(float(np.mean([x[k] for x in r])), 4)
                for k in ('pl_acc', 'conf_ratio', 'minority_share')})
                for r in zip(*[s[a]['probe'] for s in per_seed])]
            for a in arms if a not in ('supervised', 'full')}
    return out


def print_table(name: str, res: dict, classes: List[str]) -> None:
    """Human-readable gains: mean [95% t interval], win share."""
    print(f'\n{name}: test mIoU gain over supervised, {len(res["seeds"])} '
          'paired seeds, mean [95% t CI] (bootstrap CI) {95% rerun '
          'interval: where a rerun on another machine lands} wins')
    fmt = ('{mean:+.2f} [{ci[0]:+.2f}, {ci[1]:+.2f}] ({boot_ci[0]:+.2f}, '
           '{boot_ci[1]:+.2f}) {{{rerun[0]:+.2f}, {rerun[1]:+.2f}}} '
           '{win_share:.0%}')
    for arm, g in res['gains'].items():
        print(f'  {arm:13s} mIoU     {fmt.format(**g["miou"])}')
        print(f'  {arm:13s} minority {fmt.format(**g["minority"])}')
        for cls, c in zip(classes, g['per_class']):
            print(f'  {arm:13s} {cls[:8]:8s} {fmt.format(**c)}')
    for arm, g in res.get('options_vs_fixmatch', {}).items():
        print(f'  {arm} - fixmatch mIoU     {fmt.format(**g["miou"])}')
        print(f'  {arm} - fixmatch minority {fmt.format(**g["minority"])}')
    for seed, r in res['sensitivity'].items():
        print(f'  one-ulp probe, {seed}: mIoU moved {r["miou_moved"]}, '
              f'gain moved {r["gain_moved"]}')


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-dir', default='work_dirs/s4p_gain')
    parser.add_argument('--tasks', nargs='+', default=['synthetic', 'real'])
    parser.add_argument('--seeds', nargs='+', type=int,
                        default=list(range(20)))
    parser.add_argument('--arms', nargs='+',
                        default=['supervised', 'fixmatch', *OPTIONS],
                        help=f'arms of the synthetic task, of {list(ARMS)}')
    parser.add_argument('--real-arms', nargs='+',
                        default=['supervised', 'fixmatch', *OPTIONS])
    parser.add_argument('--probe-seeds', nargs='*', type=int, default=[0],
                        help='seeds rerun from the one-ulp perturbed '
                        'warm-up (the noise floor); none: skip')
    parser.add_argument('--probe-tasks', nargs='*', default=['synthetic'],
                        help='tasks of the one-ulp probe')
    parser.add_argument('--warmup-iters', type=int, default=300)
    parser.add_argument('--iters', type=int, default=60)
    parser.add_argument('--batch', type=int, default=4,
                        help='labeled (= unlabeled) images per iteration')
    parser.add_argument('--lr', type=float, default=3e-3,
                        help='AdamW learning rate of the warm-up')
    parser.add_argument('--arm-lr', type=float, default=None,
                        help='AdamW learning rate of the arms (default: '
                        '--lr)')
    parser.add_argument('--blur-ref', type=int, default=512,
                        help='crop size the strong view blur is meant for: '
                        'its sigma is scaled by 32 / blur-ref (0 = unscaled)')
    parser.add_argument('--width', type=int, default=16,
                        help='base channels of the UNet')
    parser.add_argument('--reuse', action='store_true',
                        help='keep the arms already in <work-dir>/<task>/'
                        'seed<k>/results.json (resume, or summarise runs '
                        'made by several processes)')
    parser.add_argument('--threads', type=int, default=1,
                        help='torch threads of this process (changes the '
                        'float order of reductions)')
    parser.add_argument('--deterministic', action='store_true',
                        help='torch.use_deterministic_algorithms(True) '
                        '(mmengine randomness.deterministic)')
    return parser.parse_args()


def _task(name: str, work_dir: str) -> dict:
    root = osp.join(work_dir, f'data_{name}')
    if name not in ('synthetic', 'real'):
        raise ValueError(f'--tasks: unknown task {name!r}; use synthetic '
                         'and/or real')
    if not osp.isdir(root):  # written once, atomically (tmp + rename)
        tmp = f'{root}.tmp{os.getpid()}'
        make_synthetic(tmp) if name == 'synthetic' else make_real(tmp)
        try:
            os.replace(tmp, root)
        except OSError:  # another process was first: same content
            shutil.rmtree(tmp)
    if name == 'synthetic':
        return dict(root=root, size=32, classes=list(SYNTH_CLASSES),
                    palette=SYNTH_PALETTE)
    from mmseg.datasets import LoveDADataset
    return dict(root=root, size=32,
                classes=list(LoveDADataset.METAINFO['classes']),
                palette=LoveDADataset.METAINFO['palette'])


def headline(out: dict) -> dict:
    """The keys the checks read (synthetic gains, the real tiles' gain of
    the best synthetic option, the one-ulp noise floor)."""
    head = {}
    syn = out.get('synthetic', {}).get('gains', {})
    for arm in ('fixmatch', *OPTIONS):
        if arm in syn:
            head[f'{arm}_gain_mean'] = syn[arm]['miou']['mean']
            head[f'{arm}_gain_ci'] = syn[arm]['miou']['ci']
            head[f'{arm}_gain_rerun'] = syn[arm]['miou']['rerun']
            head[f'{arm}_gain_win_share'] = syn[arm]['miou']['win_share']
            head[f'{arm}_minority_gain_mean'] = syn[arm]['minority']['mean']
            head[f'{arm}_minority_gain_ci'] = syn[arm]['minority']['ci']
            head[f'{arm}_minority_gain_rerun'] = syn[arm]['minority'][
                'rerun']
    vs_fm = out.get('synthetic', {}).get('options_vs_fixmatch', {})
    for arm, g in vs_fm.items():
        head[f'{arm}_vs_fixmatch_gain_mean'] = g['miou']['mean']
        head[f'{arm}_vs_fixmatch_gain_ci'] = g['miou']['ci']
        head[f'{arm}_vs_fixmatch_gain_rerun'] = g['miou']['rerun']
    real = out.get('real', {}).get('gains', {})
    options = [a for a in OPTIONS if a in syn] or [a for a in OPTIONS
                                                   if a in real]
    if options:
        best = max(options, key=lambda a: syn[a]['miou']['mean']
                   if a in syn else real[a]['miou']['mean'])
        head['best_option'] = best
        if best in real:
            head['real_best_gain_mean'] = real[best]['miou']['mean']
            head['real_best_gain_ci'] = real[best]['miou']['ci']
            head['real_best_gain_rerun'] = real[best]['miou']['rerun']
    if 'fixmatch' in real:
        head['real_fixmatch_gain_mean'] = real['fixmatch']['miou']['mean']
        head['real_fixmatch_gain_ci'] = real['fixmatch']['miou']['ci']
        head['real_fixmatch_gain_rerun'] = real['fixmatch']['miou'][
            'rerun']
    head['seeds'] = min(len(out[t]['seeds']) for t in out['config']['tasks'])
    floors = [out[t]['noise_floor'] for t in out['config']['tasks']
              if 'noise_floor' in out[t]]
    head['noise_floor'] = max(floors) if floors else None
    return head


def main():
    args = parse_args()
    if args.arm_lr is None:
        args.arm_lr = args.lr
    torch.set_num_threads(args.threads)
    logger = MMLogger.get_instance('s4p_gain', log_level='WARNING')
    t_start, cpu_start = time.time(), time.process_time()
    load_start = [round(v, 2) for v in os.getloadavg()]
    out = dict(config=dict(
        tasks=args.tasks, seeds=args.seeds, probe_seeds=args.probe_seeds,
        probe_tasks=args.probe_tasks, warmup_iters=args.warmup_iters,
        iters=args.iters, batch=args.batch, lr=args.lr, arm_lr=args.arm_lr,
        width=args.width, blur_ref=args.blur_ref, conf_thr=0.95,
        teacher='self', class_stats_momentum=0.99))
    for name in args.tasks:
        task = _task(name, args.work_dir)
        out[name] = bench_task(name, task, args, logger)
        print_table(name, out[name], task['classes'])
    out['machine'] = dict(machine_record(), load_avg_start=load_start,
                          load_avg_end=[round(v, 2)
                                        for v in os.getloadavg()])
    if out['machine']['threads'] != args.threads:
        raise RuntimeError(f'torch threads changed from --threads '
                           f'{args.threads} to {out["machine"]["threads"]} '
                           'during the run; the record would be wrong')
    out['wall_time_s'] = round(time.time() - t_start)
    out['cpu_time_s'] = round(time.process_time() - cpu_start)
    out.update(headline(out))
    print(json.dumps(out))


if __name__ == '__main__':
    main()
