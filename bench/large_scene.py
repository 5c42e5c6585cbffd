"""Large-scene (patch-wise) rotated detection: cost over the model alone and
memory against the scene size.

    python bench/large_scene.py [--size 16384] [--rounds 5]

A tiny random MoE-MDF detector (the shipped config shrunk, as in the tests;
the model's own cost is not the point) on mosaics of the bundled DOTA
patches. Prints a JSON object as the last line:

- ``patch_overhead``: time per window in scene mode
  (``s5_mm.apis.inference_detector_large_scene``: crop, infer, shift, merge
  with rotated NMS) / time of the same windows, cut beforehand, through the
  model alone (pipeline + ``test_step``, ``inference_images``), in the same
  batches; median over interleaved rounds. Goal <= 1.15.
- ``rss_per_image_byte_16k``: (peak RSS - RSS before reading the scene) /
  decoded scene bytes (H x W x 3) of ``demo/image_demo.py`` on a
  ``--size`` px scene (read, patch-wise inference, drawing, writing the
  picture), in a process of its own. Goal <= 3.
- ``picture_equals_input``: 1 when that picture, with no detection above the
  threshold, equals the input scene pixel for pixel, else 0.
- ``merge_speedup``: time of mmcv's ``batched_nms`` (``nms_rotated`` class
  by class, what the merge was) / time of ``classwise_rotated_nms`` (the
  merge now) on the same boxes of the overhead scene;
  ``merge_equals_mmcv``: 1 when the merge keeps the boxes mmcv's
  ``nms_rotated`` keeps class by class, in the same order, else 0.
"""
import argparse
import json
import os
import os.path as osp
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DET_CFG = ('moe-mdf-p256_vit-b_oriented-rcnn-le90_8xb2-12e_dior-r-dota2-'
           '1024x1024.py')
PATCHES = sorted(
    osp.join(ROOT, 'tests/data/dota_split/images', f)
    for f in os.listdir(osp.join(ROOT, 'tests/data/dota_split/images')))


def mosaic(size: int) -> np.ndarray:
    """A size x size scene tiled from the DOTA patches (flipped per tile)."""
    import mmcv
    patches = [mmcv.imread(f) for f in PATCHES]
    side = patches[0].shape[0]
    scene = np.empty((size, size, 3), np.uint8)
    for ty, y in enumerate(range(0, size, side)):
        for tx, x in enumerate(range(0, size, side)):
            tile = patches[(ty * 7 + tx) % len(patches)][::(-1)**ty,
                                                           ::(-1)**tx]
            h, w = min(side, size - y), min(side, size - x)
            scene[y:y + h, x:x + w] = tile[:h, :w]
    return scene


def tiny_detector(work_dir: str):
    """Config file, checkpoint and model of the tiny random detector."""
    sys.path.insert(0, osp.join(ROOT, 'tests'))
    from s5mm_tiny_configs import save_random_checkpoint, tiny_config
    cfg = tiny_config(DET_CFG)
    return cfg, save_random_checkpoint(cfg, work_dir)


def rss() -> int:
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')


def memory_run(scene_file: str, work_dir: str) -> dict:
    """Child process (the scene file is written by the parent, so that
    making it does not count): the demo on the scene; peak RSS over RSS
    before reading the scene."""
    import mmcv
    cfg, (cfg_file, ckpt, _) = tiny_detector(work_dir)
    sys.path.insert(0, osp.join(ROOT, 'demo'))
    import image_demo
    out = osp.join(work_dir, 'picture.png')
    before = rss()
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    t0 = time.perf_counter()
    result = image_demo.main([
        scene_file, cfg_file, ckpt, '--dataset', 'dota', '--patch-size',
        '1024', '--patch-overlap', '200', '--batch-size', '4',
        '--score-thr', '0.99', '--out-file', out])
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    scores = result.pred_instances.scores
    above = int((scores >= 0.99).sum())
    equal = bool(np.array_equal(mmcv.imread(out), mmcv.imread(scene_file)))
    h, w = result.metainfo['ori_shape']
    if peak <= peak_before:
        raise RuntimeError('the peak RSS was reached before the scene was '
                           'read: the measurement would be wrong')
    return dict(rss_per_image_byte=(peak - before) / (h * w * 3),
                seconds=seconds, boxes=len(scores), above_threshold=above,
                picture_equals_input=int(equal and above == 0))


def merge_timing(results, offsets) -> dict:
    """The two merges, side by side, on the windows' shifted boxes."""
    import torch
    from mmcv.ops import batched_nms, nms_rotated
    from mmdet.utils.large_image import shift_rbboxes
    from mmengine.structures import InstanceData

    from s5_mm.apis import classwise_rotated_nms
    parts = []
    for (x, y), result in zip(offsets, results):
        pred = result.pred_instances
        pred.bboxes = shift_rbboxes(pred.bboxes, (x, y))
        parts.append(pred)
    boxes = InstanceData.cat(parts)
    b, s, labels = boxes.bboxes, boxes.scores, boxes.labels
    t0 = time.perf_counter()
    _, old = batched_nms(b, s, labels, dict(type='nms_rotated',
                                            iou_threshold=0.1, split_thr=0))
    t1 = time.perf_counter()
    new = classwise_rotated_nms(b, s, labels, 0.1)
    t2 = time.perf_counter()
    # the reference: nms_rotated class by class on the boxes themselves
    # (batched_nms shifts each class's centres by label x (max coordinate
    # + 1), and float32 IoUs at shifted centres can differ near the
    # threshold)
    kept = torch.zeros(len(s), dtype=torch.bool)
    for label in labels.unique():
        idx = torch.nonzero(labels == label).view(-1)
        kept[idx[nms_rotated(b[idx], s[idx], 0.1)[1]]] = True
    ref = torch.nonzero(kept).view(-1)
    ref = ref[s[ref].argsort(descending=True)]
    return dict(merge_speedup=(t1 - t0) / (t2 - t1),
                merge_equals_mmcv=int(new.tolist() == ref.tolist()),
                merge_boxes_not_in_old_merge=len(
                    set(old.tolist()) ^ set(new.tolist())),
                merge_boxes_in=len(boxes), merge_boxes_kept=len(new))


def overhead(rounds: int, work_dir: str) -> dict:
    import torch
    from s5_mm.apis import (build_inference_pipeline, find_dataset,
                            inference_detector_large_scene,
                            inference_images, patch_offsets)
    torch.set_num_threads(1)
    cfg, (_, _, model) = tiny_detector(work_dir)
    pipeline = build_inference_pipeline(
        find_dataset(cfg, 'dota'), 'mmrotate', 'dota')
    scene, patch, overlap, batch = mosaic(2048), 512, 128, 4
    offsets = patch_offsets(2048, 2048, patch, overlap)
    crops = [np.ascontiguousarray(scene[y:y + patch, x:x + patch])
             for x, y in offsets]

    def alone():
        results = []
        for i in range(0, len(crops), batch):
            results += inference_images(model, pipeline, crops[i:i + batch])
        return results

    def scene_mode():
        inference_detector_large_scene(model, scene, pipeline, patch,
                                       overlap, batch_size=batch)

    alone(), scene_mode()  # warm-up
    ratios, times = [], dict(alone=[], scene=[])
    for _ in range(rounds):
        pair = {}
        for name, fn in (('alone', alone), ('scene', scene_mode)):
            t0 = time.perf_counter()
            fn()
            pair[name] = time.perf_counter() - t0
            times[name].append(pair[name] / len(crops))
        ratios.append(pair['scene'] / pair['alone'])
    merge = merge_timing(alone(), offsets)
    return dict(patch_overhead=statistics.median(ratios), **merge,
                windows=len(crops),
                seconds_per_window_scene=statistics.median(times['scene']),
                seconds_per_window_alone=statistics.median(times['alone']))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--size', type=int, default=16384)
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--child-scene', help=argparse.SUPPRESS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix='s5mm_large_scene_') as tmp:
        if args.child_scene:
            print(json.dumps(memory_run(args.child_scene, tmp)))
            return
        import cv2
        import mmcv
        scene_file = osp.join(tmp, 'scene.png')
        mmcv.imwrite(mosaic(args.size), scene_file,
                     [cv2.IMWRITE_PNG_COMPRESSION, 1])
        proc = subprocess.run(
            [sys.executable, __file__, '--child-scene', scene_file],
            capture_output=True, text=True, cwd=ROOT)
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr[-4000:])
            raise SystemExit(f'the memory run failed ({proc.returncode})')
        memory = json.loads(proc.stdout.strip().splitlines()[-1])
        result = overhead(args.rounds, tmp)
    result.update(
        rss_per_image_byte_16k=memory['rss_per_image_byte'],
        picture_equals_input=memory['picture_equals_input'],
        scene_size=args.size, scene_seconds=memory['seconds'],
        scene_boxes=memory['boxes'])
    print(json.dumps(result))


if __name__ == '__main__':
    main()
