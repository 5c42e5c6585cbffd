"""Export one dataset of an MoE / multi-dataset s5_mm model to plain
mmseg / mmrotate.

From a checkpoint of a model with an ``MoEViT`` backbone (and possibly
``MultiDatasetEncoderDecoder`` heads or ``MultiDatasetTwoStageDetector``
branches) this writes, for one named dataset:

* ``<out>/<dataset>.pth``: the dense weights: every MoE fc2 becomes one
  ``Linear`` (shared rows followed by that dataset's expert rows, the order
  ``MoEViT`` concatenates them in), only that dataset's decode (and
  auxiliary) head, renamed to mmseg's ``decode_head.*``;
* ``<out>/<dataset>.py``: a config of mmseg's ``EncoderDecoder`` with
  ``VisionTransformer``, ``Feature2Pyramid`` (a ``Feature2PyramidLN`` neck
  becomes ``Feature2Pyramid`` with mmpretrain's channel LayerNorm) and that
  dataset's head and test settings (a detector becomes mmdet's
  ``TwoStageDetector`` with that dataset's FPN, RPN and RoI heads, for
  mmrotate). Multi-dataset data loaders, evaluators and loops are reduced
  to that dataset's; what still needs s5_mm (``custom_imports``,
  ``SetDatasetName`` transforms, ...) is removed, dropped keys are logged.

Plain mmseg / mmrotate load the result without importing s5_mm and predict
what the s5_mm model predicts for that dataset.

Example::

    python tools/model_converters/export_dense.py \\
        configs/mdf_seg/moe-mdf-p256_vit-b_upernet_8xb12-100e_rsseg4-512x512.py \\
        work_dirs/moe-mdf/epoch_100.pth potsdam exported/
"""
import argparse
import copy
import os
import os.path as osp
import re
from collections import OrderedDict
from typing import Any, Dict, Optional, Tuple

import torch
from ckpt_utils import (StateDict, check_fits, load_state_dict,
                        save_state_dict)
from mmengine.config import Config
from mmengine.logging import print_log

from s5_mm.datasets.dataset_lookup import dataset_names

MOE_BACKBONES = ('MoEViT', )
SINGLE_HEAD = 'EncoderDecoder'
MULTI_HEAD = 'MultiDatasetEncoderDecoder'
MULTI_DET = 'MultiDatasetTwoStageDetector'
DENSE_DET = 'mmdet.TwoStageDetector'
DATASET_TRANSFORM = 'SetDatasetName'
_EXPERT = re.compile(r'^(.*\.ffn\.)experts\.(\d+)\.(weight|bias)$')
_FC = re.compile(r'^(.*\.ffn\.)layers\.(\d+)\.(weight|bias)$')


def _type(cfg: Optional[dict]) -> str:
    """Registry name without scope prefix (``mmseg.MoEViT`` -> ``MoEViT``)."""
    return str((cfg or {}).get('type', '')).split('.')[-1]


def _retype(cfg: dict, name: str) -> None:
    """Set ``cfg['type']`` to ``name``, keeping its scope prefix."""
    scope = str(cfg['type']).rpartition('.')[0]
    cfg['type'] = f'{scope}.{name}' if scope else name


def dense_ffn_state(state: StateDict, expert: int) -> StateDict:
    """Merge each MoE fc2 (shared rows + expert ``expert`` rows) into one
    dense fc2 and drop all experts.

    Args:
        state (dict): Weights with ``*.ffn.layers.N.*`` (shared fc2) and
            ``*.ffn.experts.k.*`` keys.
        expert (int): Index of the expert to keep.

    Returns:
        dict: Dense weights (mmseg ``VisionTransformer`` layout).
    """
    experts: Dict[Tuple[str, str], Dict[int, torch.Tensor]] = {}
    for key, value in state.items():
        match = _EXPERT.match(key)
        if match:
            experts.setdefault((match[1], match[3]), {})[int(match[2])] = value
    if not experts:
        raise ValueError('the checkpoint has no *.ffn.experts.* weights: it '
                         'is already dense')
    out = OrderedDict()
    for key, value in state.items():
        if _EXPERT.match(key):
            continue
        match = _FC.match(key)
        if match and (match[1], match[3]) in experts:
            found = experts[(match[1], match[3])]
            if expert not in found:
                raise KeyError(f"no '{match[1]}experts.{expert}.{match[3]}' "
                               f'in the checkpoint (experts {sorted(found)})')
            value = torch.cat([value, found[expert]], dim=0)
        out[key] = value
    return out


def _rename(state: StateDict, old: str, new: str) -> StateDict:
    return OrderedDict((new + k[len(old):], v) for k, v in state.items()
                       if k.startswith(old))


def export_model(model: dict, state: StateDict,
                 dataset: str) -> Tuple[dict, StateDict]:
    """Dense single-dataset model config and weights.

    Args:
        model (dict): The s5_mm model config: ``EncoderDecoder`` with an
            ``MoEViT`` backbone, ``MultiDatasetEncoderDecoder`` or
            ``MultiDatasetTwoStageDetector``.
        state (dict): Its weights.
        dataset (str): The dataset to export.

    Returns:
        tuple(dict, dict): Config and weights of an mmseg
        ``EncoderDecoder`` (segmentors) or an mmdet ``TwoStageDetector``
        (detectors: the shared neck and the dataset's neck become
        ``neck=[...]``, built by mmengine as a ``Sequential``).
    """
    model = copy.deepcopy(model)
    kind = _type(model)
    backbone = model['backbone']
    if _type(backbone) not in MOE_BACKBONES and kind not in (MULTI_HEAD,
                                                             MULTI_DET):
        raise ValueError(f'nothing to export: backbone {backbone["type"]} is '
                         'not an MoE backbone and the model has one head')
    names = list(
        backbone.get('dataset_names') or model.get('dataset_names')
        or model['decode_heads'])
    if dataset not in names:
        raise ValueError(f"unknown dataset '{dataset}': the model has "
                         f'{names}')
    heads = OrderedDict()
    if kind == MULTI_HEAD:
        _retype(model, SINGLE_HEAD)
        model['decode_head'] = model.pop('decode_heads')[dataset]
        heads.update(_rename(state, f'decode_heads.{dataset}.',
                             'decode_head.'))
        aux = model.pop('auxiliary_heads', None) or {}
        if dataset in aux:
            model['auxiliary_head'] = aux[dataset]
            heads.update(_rename(state, f'auxiliary_heads.{dataset}.',
                                 'auxiliary_head.'))
        test_cfg = dict(model.get('test_cfg') or {})
        test_cfg.update((test_cfg.pop('per_dataset', None) or {}).get(
            dataset, {}))
        model['test_cfg'] = test_cfg
    elif kind == MULTI_DET:
        heads.update(_export_detector(model, state, names.index(dataset)))
        model = _dense_detector_cfg(model, names.index(dataset))
    elif kind == SINGLE_HEAD:
        heads.update((k, v) for k, v in state.items()
                     if k.startswith(('decode_head.', 'auxiliary_head.')))
    else:
        raise ValueError(f'cannot export a {model["type"]}: supported models '
                         f'are {SINGLE_HEAD}, {MULTI_HEAD} and {MULTI_DET}')
    body = OrderedDict((k, v) for k, v in state.items()
                       if k.startswith(('backbone.', 'neck.')))
    if kind == MULTI_DET and isinstance(model.get('neck'), list):
        body = OrderedDict(  # shared neck -> neck.0 (branch neck: neck.1)
            ('neck.0.' + k[5:] if k.startswith('neck.') else k, v)
            for k, v in body.items())
    if _type(backbone) in MOE_BACKBONES:
        body = dense_ffn_state(body, names.index(dataset))
        _retype(backbone, 'VisionTransformer')
        for key in ('dataset_names', 'expert_channels'):
            backbone.pop(key, None)
    for cfg in (model, backbone):
        cfg.pop('init_cfg', None)
        cfg.pop('pretrained', None)
    necks = model.get('neck')
    for neck in necks if isinstance(necks, list) else [necks]:
        if _type(neck) == 'Feature2PyramidLN':
            from s5_mm.models.necks.feature2pyramid_ln import CHANNEL_LN
            _retype(neck, 'Feature2Pyramid')
            neck['norm_cfg'] = neck.get('norm_cfg') or dict(CHANNEL_LN)
    body.update(heads)
    return model, body


def _pick(cfg: Any, index: int) -> dict:
    """A per-dataset config: the ``index``-th of a list, or the shared one."""
    return copy.deepcopy(cfg[index] if isinstance(cfg, (list, tuple)) else cfg)


def _dense_detector_cfg(model: dict, index: int) -> dict:
    """mmdet ``TwoStageDetector`` config of dataset ``index``'s branch; the
    shared neck and the branch neck become a list (built as Sequential)."""
    roi_head = _pick(model['roi_head'], index)
    if model.get('num_classes') is not None:
        roi_head['bbox_head']['num_classes'] = model['num_classes'][index]
    branch_neck = _pick(model['branch_neck'], index)
    out = dict(
        type=DENSE_DET,
        backbone=model['backbone'],
        neck=[model['neck'], branch_neck] if model.get('neck') else
        branch_neck,
        rpn_head=_pick(model['rpn_head'], index),
        roi_head=roi_head,
        train_cfg=model.get('train_cfg'),
        test_cfg=model.get('test_cfg'))
    if model.get('data_preprocessor') is not None:
        out['data_preprocessor'] = model['data_preprocessor']
    return out


def _export_detector(model: dict, state: StateDict,
                     index: int) -> StateDict:
    """Weights of one detection branch under mmdet's names."""
    name = model['dataset_names'][index]
    branch = f'branches.{name}.'
    neck = 'neck.1.' if model.get('neck') else 'neck.'
    out = _rename(state, branch + 'neck.', neck)
    out.update(_rename(state, branch + 'rpn_head.', 'rpn_head.'))
    out.update(_rename(state, branch + 'roi_head.', 'roi_head.'))
    return out


def s5_mm_types() -> Dict[str, str]:
    """Registry name of every s5_mm class -> the registry name of its
    nearest plain OpenMMLab base class (``''`` if there is none)."""
    import s5_mm  # noqa: F401  (registers everything)
    from mmengine.registry import Registry
    seen, registered, ours = set(), {}, {}

    def visit(registry: Registry) -> None:
        if id(registry) in seen:
            return
        seen.add(id(registry))
        for name, cls in registry.module_dict.items():
            if getattr(cls, '__module__', '').startswith('s5_mm'):
                ours[name] = cls
            else:
                registered.setdefault(cls, name)
        for child in registry.children.values():
            visit(child)

    import mmengine.registry as root
    for value in vars(root).values():
        if isinstance(value, Registry):
            visit(value)
    return {
        name: next((registered[base] for base in cls.__mro__[1:]
                    if base in registered), '')
        for name, cls in ours.items()
    }


def _to_plain(value: Any, types: Dict[str, str]) -> Any:
    """Replace s5_mm types by their plain base class (datasets, ...)."""
    if isinstance(value, dict):
        value = {k: _to_plain(v, types) for k, v in value.items()}
        if types.get(_type(value)):
            _retype(value, types[_type(value)])
        return value
    if isinstance(value, (list, tuple)):
        return type(value)(_to_plain(v, types) for v in value)
    return value


def _strip_dataset_transform(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_dataset_transform(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(
            _strip_dataset_transform(v) for v in value
            if not (isinstance(v, dict) and _type(v) == DATASET_TRANSFORM))
    return value


def _uses(value: Any, types: Dict[str, str]) -> bool:
    if isinstance(value, dict):
        return _type(value) in types or any(
            _uses(v, types) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_uses(v, types) for v in value)
    return False


def _single_dataset(cfg: dict, dataset: str, types: Dict[str, str]) -> None:
    """Reduce multi-dataset loaders, evaluators and loops to ``dataset``.

    A loader over a concatenation of datasets keeps the one whose pipeline
    names ``dataset`` (``SetDatasetName``), s5_mm dataset classes becoming
    their plain base class (``StrictDOTAv2Dataset`` -> ``DOTAv2Dataset``);
    an s5_mm evaluator keeps that
    dataset's metric (``metrics[dataset]`` or its shared ``metric``); an
    s5_mm val/test loop becomes mmengine's ``ValLoop``/``TestLoop``.
    """
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(key)
        parts = (loader or {}).get('dataset', {}).get('datasets')
        if not isinstance(parts, (list, tuple)):
            continue
        mine = [d for d in parts if dataset in dataset_names(d)]
        if len(mine) != 1:
            continue
        loader['dataset'] = _to_plain(mine[0], types)
        if _type(loader.get('sampler')) not in ('DefaultSampler',
                                                'InfiniteSampler'):
            loader['sampler'] = dict(
                type='DefaultSampler', shuffle=key == 'train_dataloader')
        loader.pop('batch_sampler', None)
    for key in ('val_evaluator', 'test_evaluator'):
        evaluator = cfg.get(key)
        if not isinstance(evaluator, dict) or _type(evaluator) not in types:
            continue
        metrics = evaluator.get('metrics')
        if isinstance(metrics, dict) and dataset in metrics:
            cfg[key] = metrics[dataset]
        elif isinstance(evaluator.get('metric'), dict):
            cfg[key] = evaluator['metric']
    for key, loop in (('val_cfg', 'ValLoop'), ('test_cfg', 'TestLoop')):
        if _type(cfg.get(key)) in types:
            cfg[key] = dict(type=loop)


def export_config(cfg: Config, model: dict, dataset: str) -> Config:
    """The config without s5_mm, with the exported model and, where the
    config has multi-dataset loaders / evaluators, ``dataset``'s."""
    types = s5_mm_types()
    out = cfg.to_dict()
    _single_dataset(out, dataset, types)
    out = _strip_dataset_transform(out)
    out['model'] = model
    imports = out.pop('custom_imports', None)
    if imports:
        kept = [m for m in imports.get('imports', [])
                if m.split('.')[0] != 's5_mm']
        if kept:
            out['custom_imports'] = dict(imports, imports=kept)
    dropped = [k for k, v in out.items() if _uses(v, types)]
    for key in dropped:
        out.pop(key)
    if dropped:
        print_log(f'dropped config keys that need s5_mm: {dropped} (add '
                  'plain mmseg data/eval settings to train or test with them)',
                  logger='current')
    return Config(out)


def export(config: str, checkpoint: str, dataset: str, out_dir: str,
           trust: bool = False) -> Tuple[str, str]:
    """Write ``<out_dir>/<dataset>.py`` and ``.pth``; return their paths."""
    cfg = Config.fromfile(config)
    model, state = export_model(cfg.model.to_dict(),
                                load_state_dict(checkpoint, trust), dataset)
    exported = export_config(cfg, model, dataset)
    # the exported weights must load exactly into the exported model
    check_fits(state, exported, source=f'weights exported for {dataset}')
    os.makedirs(out_dir, exist_ok=True)
    cfg_path = osp.join(out_dir, f'{dataset}.py')
    ckpt_path = osp.join(out_dir, f'{dataset}.pth')
    exported.dump(cfg_path)
    save_state_dict(state, ckpt_path,
                    meta=dict(exported_from=checkpoint, dataset=dataset))
    return cfg_path, ckpt_path


def parse_args():
    parser = argparse.ArgumentParser(
        description='Export one dataset of an s5_mm MoE / multi-dataset '
        'segmentor as a dense plain-mmseg model')
    parser.add_argument('config', help='s5_mm config of the checkpoint')
    parser.add_argument('checkpoint', help='s5_mm checkpoint')
    parser.add_argument('dataset', help='dataset name (as in the config)')
    parser.add_argument('out_dir', help='writes <dataset>.py / <dataset>.pth')
    parser.add_argument(
        '--trust-checkpoint', action='store_true',
        help='unpickle non-tensor objects (only for trusted files)')
    return parser.parse_args()


def main():
    args = parse_args()
    export(args.config, args.checkpoint, args.dataset, args.out_dir,
           args.trust_checkpoint)


if __name__ == '__main__':
    main()
