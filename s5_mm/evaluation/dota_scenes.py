"""DOTA patches back to full scenes: merge, full-scene labels, Task1 files.

The rules, stated once:

- A patch of mmrotate's split tool (``tools/data/dota/split/img_split.py``)
  is named ``SCENE__SIZE__X___Y``: ``SIZE`` is the window size and ``X``,
  ``Y`` its top-left corner in the scene's pixels (the tool changes the
  window size for its ``rates``, never the image). DOTA_devkit's
  ``ImgSplit`` names ``SCENE__RATE__X___Y`` with offsets in the image
  rescaled by ``RATE``: only rate ``1`` is the scene's frame, any other
  rate is refused with the patch named.
- Merging: every patch's rotated boxes ``(cx, cy, w, h, angle)`` are shifted
  by the patch's ``(X, Y)``, then each scene keeps the boxes of
  :func:`~s5_mm.models.utils.classwise_rotated_nms` (exactly mmcv's CPU
  ``nms_rotated``, class by class), as mmrotate's
  ``DOTAMetric.merge_results`` and DOTA_devkit's ``ResultMerge`` do.
- Full-scene labels are the raw DOTA ``labelTxt`` files (header lines
  ``imagesource:`` / ``gsd:`` allowed), quadrilaterals turned into rotated
  boxes by mmrotate's ``qbox2rbox``, as the patch pipeline does. Objects
  with a difficulty above ``diff_thr`` are ignored (neither missed nor
  false positives when matched), as in DOTA_devkit's evaluation, which
  ignores ``difficult`` = 1 (``diff_thr=0``).
- Task1 submission (DOTA evaluation server): one ``Task1_<class>.txt`` per
  class, lines ``scene score x1 y1 x2 y2 x3 y3 x4 y4`` (mmrotate's
  ``rbox2qbox`` corners), zipped flat. Scores are written in full (the
  server ranks by them; mmrotate rounds them to 2 decimals, which ties
  thousands of detections) and corners with 3 decimals.
"""
import os
import os.path as osp
import re
import zipfile
from collections import OrderedDict
from typing import Dict, List, Sequence, Tuple

import numpy as np
import torch
from mmrotate.structures.bbox import qbox2rbox, rbox2qbox

from s5_mm.models.utils import classwise_rotated_nms

_PATCH_NAME = re.compile(r'^(?P<scene>.+?)__(?P<size>[0-9.]+)__'
                         r'(?P<x>\d+)___(?P<y>\d+)$')


def parse_patch_name(img_id: str) -> Tuple[str, int, int]:
    """Scene name and patch offset of a split patch.

    Args:
        img_id (str): the patch's name without extension, e.g.
            ``P1888__1024__0___824``.

    Returns:
        tuple: ``(scene, x, y)``.
    """
    match = _PATCH_NAME.match(img_id)
    if match is None:
        raise ValueError(
            f"'{img_id}' is not a patch name SCENE__SIZE__X___Y of mmrotate's "
            'split tool (tools/data/dota/split/img_split.py): full-scene '
            'merging needs the patches of that tool')
    size = match.group('size')
    if '.' in size and float(size) != 1.0:
        raise ValueError(
            f"patch '{img_id}' was cut from an image rescaled by {size} "
            "(DOTA_devkit's ImgSplit with rate != 1): its offsets are not "
            "in the scene's pixels. Split with mmrotate's split tool, whose "
            'rates change the window size and keep the scene frame')
    return match.group('scene'), int(match.group('x')), int(match.group('y'))


def merge_patch_predictions(results: Sequence[dict], num_classes: int,
                            iou_thr: float) -> Dict[str, List[np.ndarray]]:
    """Merge the patches' predictions into one set per scene.

    Args:
        results (Sequence[dict]): one dict per patch with ``img_id`` (the
            patch name), ``bboxes`` (N, 5) rotated boxes in the patch,
            ``scores`` (N,) and ``labels`` (N,), as mmrotate's
            ``DOTAMetric.process`` keeps them.
        num_classes (int): number of classes.
        iou_thr (float): IoU threshold of the class-wise rotated NMS.

    Returns:
        dict: scene name -> one (n, 6) float32 array ``(cx, cy, w, h, angle,
        score)`` per class, highest score first; scenes in name order.
    """
    boxes: Dict[str, list] = {}
    for result in results:
        scene, x, y = parse_patch_name(result['img_id'])
        bboxes = np.asarray(result['bboxes'], dtype=np.float32)
        if bboxes.ndim != 2 or bboxes.shape[1] != 5:
            raise ValueError(
                f"patch '{result['img_id']}': expected rotated boxes (N, 5), "
                f'got {bboxes.shape}; full-scene merging needs '
                "predict_box_type='rbox'")
        shifted = bboxes.copy()
        shifted[:, :2] += np.array([x, y], dtype=np.float32)
        labels = np.asarray(result['labels'], dtype=np.int64)
        if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
            raise ValueError(
                f"patch '{result['img_id']}' has labels outside 0.."
                f'{num_classes - 1}: the metric has {num_classes} classes')
        boxes.setdefault(scene, []).append(
            (shifted, np.asarray(result['scores'], dtype=np.float32), labels))
    merged: Dict[str, List[np.ndarray]] = OrderedDict()
    for scene in sorted(boxes):
        b, s, lab = (np.concatenate(parts) for parts in zip(*boxes[scene]))
        keep = classwise_rotated_nms(
            torch.from_numpy(b), torch.from_numpy(s), torch.from_numpy(lab),
            iou_thr).numpy()
        dets = np.concatenate([b, s[:, None]], axis=1)[keep]
        merged[scene] = [dets[lab[keep] == c] for c in range(num_classes)]
    return merged


def load_scene_labels(ann_dir: str, scenes: Sequence[str],
                      classes: Sequence[str],
                      diff_thr: int = 0) -> List[dict]:
    """Read the raw DOTA ``labelTxt`` file of every scene.

    Args:
        ann_dir (str): folder of the full scenes' ``<scene>.txt`` files.
        scenes (Sequence[str]): scene names.
        classes (Sequence[str]): class names (label = index).
        diff_thr (int): objects with a difficulty above it are ignored.
            Defaults to 0 (DOTA_devkit: ``difficult`` objects ignored).

    Returns:
        list[dict]: per scene, mmrotate's annotation dict for
        ``eval_rbbox_map``: ``bboxes`` (n, 5), ``labels``,
        ``bboxes_ignore``, ``labels_ignore``.
    """
    if not osp.isdir(ann_dir):
        raise FileNotFoundError(
            f'full-scene label folder {ann_dir} does not exist: set '
            "full_scene_ann_dir to the raw DOTA labelTxt folder of the "
            "scenes evaluated (e.g. DOTA-v2 'val/labelTxt-v2.0/labelTxt/')")
    index = {name: i for i, name in enumerate(classes)}
    annotations = []
    for scene in scenes:
        path = osp.join(ann_dir, f'{scene}.txt')
        if not osp.isfile(path):
            raise FileNotFoundError(
                f"no full-scene labels for scene '{scene}': {path} is "
                'missing; full_scene_ann_dir must hold the raw labelTxt of '
                'every scene whose patches are evaluated')
        polys, labels, ignored = [], [], []
        with open(path, encoding='utf-8') as f:
            for number, line in enumerate(f, 1):
                fields = line.split()
                if not fields or (len(fields) == 1 and ':' in fields[0]):
                    continue  # blank line, imagesource: / gsd: header
                where = f'{path}, line {number}: {line.rstrip()!r}'
                try:
                    if len(fields) != 10:
                        raise ValueError
                    polys.append([float(v) for v in fields[:8]])
                    difficulty = int(fields[9])
                except ValueError:
                    raise ValueError(
                        f'malformed DOTA label line in {where}: expected '
                        '"x1 y1 x2 y2 x3 y3 x4 y4 class difficulty"') from None
                if fields[8] not in index:
                    raise ValueError(
                        f'unknown class {fields[8]!r} in {where}: the metric '
                        f'has classes {list(classes)}')
                labels.append(index[fields[8]])
                ignored.append(difficulty > diff_thr)
        rboxes = qbox2rbox(torch.tensor(polys, dtype=torch.float32).view(
            -1, 8)).numpy().reshape(-1, 5)
        labels, ignored = np.array(labels, np.int64), np.array(ignored, bool)
        annotations.append(dict(
            bboxes=rboxes[~ignored], labels=labels[~ignored],
            bboxes_ignore=rboxes[ignored], labels_ignore=labels[ignored]))
    return annotations


def write_task1_submission(merged: Dict[str, List[np.ndarray]],
                           classes: Sequence[str], out_dir: str) -> str:
    """Write the DOTA Task1 (oriented boxes) files and their zip.

    Args:
        merged (dict): scene -> per-class (n, 6) arrays, as returned by
            :func:`merge_patch_predictions`.
        classes (Sequence[str]): class names, in label order.
        out_dir (str): a folder that does not exist yet; gets
            ``Task1_<class>.txt`` for every class and
            ``<basename of out_dir>.zip`` holding them.

    Returns:
        str: the zip file's path.
    """
    if osp.exists(out_dir):
        raise FileExistsError(
            f'submission folder {out_dir} already exists: remove it or set '
            'another outfile_prefix (files of an earlier run are never '
            'mixed into a submission)')
    os.makedirs(out_dir)
    files = [osp.join(out_dir, f'Task1_{name}.txt') for name in classes]
    for c, path in enumerate(files):
        with open(path, 'w', encoding='utf-8') as f:
            for scene, per_class in merged.items():
                dets = per_class[c]
                if not len(dets):
                    continue
                polys = rbox2qbox(torch.from_numpy(dets[:, :5]).double())
                for poly, score in zip(polys.tolist(), dets[:, 5].tolist()):
                    f.write(' '.join([scene, repr(score)] +
                                     [f'{p:.3f}' for p in poly]) + '\n')
    zip_path = osp.join(out_dir, osp.basename(osp.normpath(out_dir)) + '.zip')
    with zipfile.ZipFile(zip_path, 'w', zipfile.ZIP_DEFLATED) as z:
        for path in files:
            z.write(path, osp.basename(path))
    return zip_path
