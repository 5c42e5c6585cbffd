"""The S5 authors' released detector (their OBBDetection fork, mmdet 2.x)
-> s5_mm's ``MultiDatasetTwoStageDetector`` (mmrotate 1.x, le90).

Their model (``OBBTwoStageDetectorMTD``, RS_Finetune/Object_Detection in
MiliLab/S5) keeps the MoE ViT and its multi-scale neck (``fpn1``..``fpn4``)
under ``backbone.``, and one FPN / oriented RPN / RoI box head per task under
``neck_<task>.``, ``rpn_head_<task>.``, ``roi_head_<task>.bbox_head.``.
Expert k of every FFN belongs to the k-th of their ``task_names``
(``['dior', 'dota']``). The rules of the conversion:

* parameter names: ViT keys as they are (``backbone.*``), the neck to
  ``Feature2PyramidLN`` (``neck.upsample_4x.*``, ``neck.upsample_2x.*``), the
  task heads to ``branches.<dataset>.{neck,rpn_head,roi_head.bbox_head}.*``;
* ``pos_embed`` (1, N, C) has no cls slot; mmseg's ViT adds one (a zero row,
  unused with ``with_cls_token=False``);
* angles: OBBDetection's boxes turn the other way (``obb2poly``:
  (w/2 cos t, -w/2 sin t); mmrotate's ``rbox2qbox``: (w/2 cos t, w/2 sin t)),
  so the same box has t_mmrotate = -t_obbdet and the RoI head's angle delta
  changes sign: the theta row (index 4 of x, y, w, h, theta) of ``fc_reg``
  (weight and bias) is negated. The other deltas are the same maths in
  OBBDetection's ``OBB2OBBDeltaXYWHTCoder`` and mmrotate's
  ``DeltaXYWHTRBBoxCoder(proj_xy=True, edge_swap=True)``; the RPN's
  ``MidpointOffsetCoder`` predicts a horizontal box and two midpoint offsets,
  which mean the same in both;
* classes: the ``fc_cls`` rows (background last) are reordered from their
  class order (BboxToolkit's, :data:`SOURCE_CLASSES`) to the mmrotate
  dataset's (:data:`TARGET_DATASETS`), matched by class name;
* float16 weights become float32.

Every key is checked: missing, unknown and wrongly shaped keys are named
errors. Heads and experts of tasks left out of ``dataset_names`` are
dropped, each with its reason.
"""
import math
from collections import OrderedDict
from typing import Dict, Mapping, Optional, Sequence, Tuple

import torch
from torch import Tensor

from .report import (ConversionError, KindMismatchError, MissingKeyError,
                     ShapeMismatchError, UnknownKeyError)

StateDict = Dict[str, Tensor]

#: the authors' task names, in expert order (their config's ``task_names``)
SOURCE_TASKS = ('dior', 'dota')
#: class order of their datasets: BboxToolkit's ``dataset_classes``
#: ('DIOR', 'DOTA2_0'), which their DIORDataset / DOTA split files use
SOURCE_CLASSES = {
    'dior': ('airplane', 'airport', 'baseballfield', 'basketballcourt',
             'bridge', 'chimney', 'expressway-service-area',
             'expressway-toll-station', 'dam', 'golffield',
             'groundtrackfield', 'harbor', 'overpass', 'ship', 'stadium',
             'storagetank', 'tenniscourt', 'trainstation', 'vehicle',
             'windmill'),
    'dota': ('large-vehicle', 'swimming-pool', 'helicopter', 'bridge',
             'plane', 'ship', 'soccer-ball-field', 'basketball-court',
             'ground-track-field', 'small-vehicle', 'baseball-diamond',
             'tennis-court', 'roundabout', 'storage-tank', 'harbor',
             'container-crane', 'airport', 'helipad'),
}
#: the mmrotate dataset whose ``METAINFO['classes']`` order each task's
#: classifier is converted to
TARGET_DATASETS = {'dior': 'DIORDataset', 'dota': 'DOTAv2Dataset'}
#: their neck inside the backbone -> Feature2PyramidLN
NECK_KEYS = OrderedDict([
    ('fpn1.0.', 'upsample_4x.0.'),
    ('fpn1.1.ln.', 'upsample_4x.1.'),
    ('fpn1.3.', 'upsample_4x.3.'),
    ('fpn2.0.', 'upsample_2x.0.'),
])
#: per-task prefixes: theirs (format with the task) -> ours (with dataset)
HEAD_PREFIXES = (('neck_{}.', 'branches.{}.neck.'),
                 ('rpn_head_{}.', 'branches.{}.rpn_head.'),
                 ('roi_head_{}.bbox_head.', 'branches.{}.roi_head.bbox_head.'))
THETA_ROW = 4  # (x, y, w, h, theta) rows of a class-agnostic fc_reg
PATCH_KEY = 'backbone.patch_embed.projection.weight'


def is_obbdet(state: Mapping[str, Tensor]) -> bool:
    """Whether ``state`` is an OBBDetection multi-task detector state dict
    (a ViT backbone plus per-task RPN and RoI heads)."""
    return (PATCH_KEY in state
            and any(k.startswith('rpn_head_') for k in state)
            and any(k.startswith('roi_head_') for k in state))


def target_classes_of(task: str) -> Tuple[str, ...]:
    """Class order of the mmrotate dataset that ``task`` converts to."""
    from mmrotate.registry import DATASETS
    if task not in TARGET_DATASETS:
        raise ConversionError(
            f"no mmrotate dataset known for task '{task}' (known: "
            f'{sorted(TARGET_DATASETS)}): pass target_classes')
    return tuple(DATASETS.get(TARGET_DATASETS[task]).METAINFO['classes'])


def class_permutation(source: Sequence[str], target: Sequence[str],
                      task: str) -> list:
    """Rows of a classifier in ``source`` order (background last) that give
    the ``target`` order (background last): ``new = old[perm]``."""
    if sorted(source) != sorted(target) or len(set(source)) != len(source):
        raise ConversionError(
            f"task '{task}': the checkpoint's classes and the target "
            f'classes differ (only in checkpoint: '
            f'{sorted(set(source) - set(target))}, only in target: '
            f'{sorted(set(target) - set(source))}): give matching '
            'source_classes / target_classes')
    return [list(source).index(c) for c in target] + [len(source)]


def _shape(state: Mapping[str, Tensor], key: str) -> Tuple[int, ...]:
    if key not in state:
        raise MissingKeyError(
            f"the detector checkpoint has no '{key}': it is not a complete "
            "checkpoint of the authors' OBBTwoStageDetectorMTD")
    return tuple(state[key].shape)


def source_shapes(state: Mapping[str, Tensor],
                  tasks: Sequence[str] = SOURCE_TASKS,
                  classes: Optional[Mapping[str, Sequence[str]]] = None
                  ) -> Dict[str, Tuple[int, ...]]:
    """Every key of the authors' detector with its shape, for the ViT and
    head sizes read from a few keys of ``state`` (embedding, FFN, expert,
    FPN, RPN and box-head widths) and the class counts of ``classes``."""
    classes = classes or SOURCE_CLASSES
    dims, chans, patch, _ = _shape(state, PATCH_KEY)
    hidden = _shape(state, 'backbone.layers.0.ffn.layers.0.0.weight')[0]
    part = _shape(state, 'backbone.layers.0.ffn.experts.0.weight')[0]
    tokens = _shape(state, 'backbone.pos_embed')[1]
    layers = 1 + max(
        int(k.split('.')[2]) for k in state
        if k.startswith('backbone.layers.'))
    out = {'backbone.cls_token': (1, 1, dims),
           'backbone.pos_embed': (1, tokens, dims),
           PATCH_KEY: (dims, chans, patch, patch),
           'backbone.patch_embed.projection.bias': (dims, )}
    if math.isqrt(tokens)**2 != tokens:
        raise ShapeMismatchError(
            f"detector checkpoint key 'backbone.pos_embed' has {tokens} "
            'tokens, not a square grid without cls slot (their ViT has none)')

    def linear(prefix, n_out, n_in):
        out[prefix + 'weight'] = (n_out, n_in)
        out[prefix + 'bias'] = (n_out, )

    for i in range(layers):
        p = f'backbone.layers.{i}.'
        for norm in ('ln1.weight', 'ln1.bias', 'ln2.weight', 'ln2.bias'):
            out[p + norm] = (dims, )
        out[p + 'attn.attn.in_proj_weight'] = (3 * dims, dims)
        out[p + 'attn.attn.in_proj_bias'] = (3 * dims, )
        linear(p + 'attn.attn.out_proj.', dims, dims)
        linear(p + 'ffn.layers.0.0.', hidden, dims)
        linear(p + 'ffn.layers.1.', dims - part, hidden)
        for k in range(len(tasks)):
            linear(f'{p}ffn.experts.{k}.', part, hidden)
    for old in NECK_KEYS:  # ConvTranspose2d(2, 2) or the channel LayerNorm
        out[f'backbone.{old}weight'] = (
            (dims, ) if '.ln.' in old else (dims, dims, 2, 2))
        out[f'backbone.{old}bias'] = (dims, )
    for task in tasks:
        neck, rpn, roi = (p.format(task) for p, _ in HEAD_PREFIXES)
        fpn = _shape(state, neck + 'lateral_convs.0.conv.weight')[0]
        anchors = _shape(state, rpn + 'rpn_cls.weight')[0]
        fc_in = _shape(state, roi + 'shared_fcs.0.weight')[1]
        fc_out = _shape(state, roi + 'shared_fcs.0.weight')[0]
        for level in range(4):
            out[f'{neck}lateral_convs.{level}.conv.weight'] = (fpn, dims, 1, 1)
            out[f'{neck}fpn_convs.{level}.conv.weight'] = (fpn, fpn, 3, 3)
            out[f'{neck}lateral_convs.{level}.conv.bias'] = (fpn, )
            out[f'{neck}fpn_convs.{level}.conv.bias'] = (fpn, )
        for name, n_out, kernel in (('rpn_conv', fpn, 3),
                                    ('rpn_cls', anchors, 1),
                                    ('rpn_reg', 6 * anchors, 1)):
            out[f'{rpn}{name}.weight'] = (n_out, fpn, kernel, kernel)
            out[f'{rpn}{name}.bias'] = (n_out, )
        linear(roi + 'shared_fcs.0.', fc_out, fc_in)
        linear(roi + 'shared_fcs.1.', fc_out, fc_out)
        linear(roi + 'fc_cls.', len(classes[task]) + 1, fc_out)
        linear(roi + 'fc_reg.', 5, fc_out)
    return out


def _check_keys(state: Mapping[str, Tensor],
                expected: Mapping[str, Tuple[int, ...]]) -> None:
    missing = [k for k in expected if k not in state]
    if missing:
        raise MissingKeyError(
            f'the detector checkpoint lacks {len(missing)} keys of the '
            f"authors' OBBTwoStageDetectorMTD, e.g. {missing[:5]}: it is "
            'incomplete or another model')
    unknown = [k for k in state if k not in expected]
    if unknown:
        raise UnknownKeyError(
            f'the detector checkpoint has {len(unknown)} keys that the '
            f"authors' OBBTwoStageDetectorMTD does not have, e.g. "
            f'{unknown[:5]}: nothing is guessed; convert only their released '
            'detector (or pass its task_names)')
    for key, shape in expected.items():
        value = state[key]
        if tuple(value.shape) != shape:
            raise ShapeMismatchError(
                f"detector checkpoint key '{key}' has shape "
                f'{tuple(value.shape)}, expected {shape} from the rest of the '
                'checkpoint (and the class counts of its tasks)')
        if not value.is_floating_point():
            raise ShapeMismatchError(
                f"detector checkpoint key '{key}' is {value.dtype}, expected "
                'floating point')


def _rename(key: str, tasks: Sequence[str],
            kept: Sequence[str]) -> Tuple[Optional[str], Optional[str]]:
    """(our key, None) or (None, reason to drop) for a source key."""
    if key.startswith('backbone.fpn'):
        rest = key[len('backbone.'):]
        old = next(o for o in NECK_KEYS if rest.startswith(o))
        return 'neck.' + NECK_KEYS[old] + rest[len(old):], None
    if key.startswith('backbone.'):
        parts = key.split('.')
        if parts[3:5] == ['ffn', 'experts']:
            task = tasks[int(parts[5])]
            if task not in kept:
                return None, (f"expert of task '{task}', which is not in "
                              f'dataset_names {list(kept)}')
            parts[5] = str(list(kept).index(task))
            return '.'.join(parts), None
        return key, None
    for task in tasks:
        for old, new in HEAD_PREFIXES:
            old = old.format(task)
            if key.startswith(old):
                if task not in kept:
                    return None, (f"head of task '{task}', which is not in "
                                  f'dataset_names {list(kept)}')
                return new.format(task) + key[len(old):], None
    raise UnknownKeyError(f"unexpected detector checkpoint key '{key}'")


def convert_obbdet(
    state: Mapping[str, Tensor],
    dataset_names: Sequence[str] = SOURCE_TASKS,
    task_names: Sequence[str] = SOURCE_TASKS,
    source_classes: Optional[Mapping[str, Sequence[str]]] = None,
    target_classes: Optional[Mapping[str, Sequence[str]]] = None,
) -> Tuple['OrderedDict[str, Tensor]', Dict[str, str]]:
    """Convert the authors' detector state dict to s5_mm keys.

    Args:
        state (Mapping[str, Tensor]): their ``state_dict`` (no ``module.``).
        dataset_names (Sequence[str]): the tasks to keep, in the target
            model's ``dataset_names`` order (its expert order). Their branch
            names are the task names. Defaults to both, ``('dior', 'dota')``.
        task_names (Sequence[str]): their ``task_names`` (expert order).
        source_classes (Mapping, optional): class order of each task in the
            checkpoint. Defaults to :data:`SOURCE_CLASSES`.
        target_classes (Mapping, optional): class order wanted for each
            task. Defaults to the mmrotate datasets of
            :data:`TARGET_DATASETS`.

    Returns:
        tuple: (state dict of ``MultiDatasetTwoStageDetector``, float32,
        {dropped source key: reason}).

    Raises:
        MissingKeyError, UnknownKeyError: a key is missing or unknown (named;
            both are KeyErrors).
        ShapeMismatchError: a wrong shape or dtype (a ValueError).
        KindMismatchError: not a detector checkpoint (a ValueError).
        ConversionError: classes that do not match (a ValueError).
    """
    if not is_obbdet(state):
        found = sorted({k.split('.')[0] for k in state})[:8]
        raise KindMismatchError(
            'not a detector checkpoint of the authors\' OBBDetection fork: '
            f"it needs '{PATCH_KEY}', 'rpn_head_<task>.*' and "
            f"'roi_head_<task>.*' keys, its keys start with {found} (a "
            'segmentation or S4P checkpoint? choose its kind)')
    unknown = [d for d in dataset_names if d not in task_names]
    if unknown or len(set(dataset_names)) != len(dataset_names):
        raise ConversionError(
            f'dataset_names {list(dataset_names)} must be distinct task '
            f'names of the checkpoint {list(task_names)}')
    source_classes = dict(source_classes or SOURCE_CLASSES)
    _check_keys(state, source_shapes(state, task_names, source_classes))
    perms = {}
    for task in dataset_names:
        target = (target_classes[task] if target_classes else
                  target_classes_of(task))
        perms[task] = class_permutation(source_classes[task], target, task)

    out: 'OrderedDict[str, Tensor]' = OrderedDict()
    dropped: Dict[str, str] = {}
    for key, value in state.items():
        new, reason = _rename(key, task_names, dataset_names)
        if new is None:
            dropped[key] = reason
            continue
        value = value.detach().float().clone()
        if key == 'backbone.pos_embed':
            value = torch.cat([value.new_zeros(1, 1, value.shape[2]), value],
                              dim=1)
        elif '.bbox_head.fc_cls.' in key:
            value = value[perms[new.split('.')[1]]]
        elif '.bbox_head.fc_reg.' in key:
            value[THETA_ROW] = -value[THETA_ROW]
        out[new] = value
    return out, dropped
