"""Export one dataset of an MoE / multi-dataset s5_mm segmentor to plain mmseg.

From a checkpoint of a model with an ``MoEViT`` backbone (and possibly
``MultiDatasetEncoderDecoder`` heads) this writes, for one named dataset:

* ``<out>/<dataset>.pth``: the dense weights: every MoE fc2 becomes one
  ``Linear`` (shared rows followed by that dataset's expert rows, the order
  ``MoEViT`` concatenates them in), only that dataset's decode (and
  auxiliary) head, renamed to mmseg's ``decode_head.*``;
* ``<out>/<dataset>.py``: a config of mmseg's ``EncoderDecoder`` with
  ``VisionTransformer``, ``Feature2Pyramid`` (a ``Feature2PyramidLN`` neck
  becomes ``Feature2Pyramid`` with mmpretrain's channel LayerNorm) and that
  dataset's head and test settings. Parts of the config that need s5_mm
  (``custom_imports``, ``SetDatasetName`` transforms, multi-dataset data
  loaders / evaluators) are removed; the names of dropped keys are logged.

Plain mmseg loads the result without importing s5_mm and predicts what the
s5_mm model predicts for that dataset.

Example::

    python tools/model_converters/export_dense.py \\
        configs/mdf/moe-mdf-p256_vit-b_upernet_8xb12-100e_rsseg4-512x512.py \\
        work_dirs/moe-mdf/epoch_100.pth potsdam exported/
"""
import argparse
import copy
import os
import os.path as osp
import re
from collections import OrderedDict
from typing import Any, Dict, Optional, Set, Tuple

import torch
from ckpt_utils import StateDict, load_state_dict, save_state_dict
from mmengine.config import Config
from mmengine.logging import print_log

MOE_BACKBONES = ('MoEViT', )
SINGLE_HEAD = 'EncoderDecoder'
MULTI_HEAD = 'MultiDatasetEncoderDecoder'
DATASET_TRANSFORM = 'SetDatasetName'
_EXPERT = re.compile(r'^(.*\.ffn\.)experts\.(\d+)\.(weight|bias)$')
_FC = re.compile(r'^(.*\.ffn\.)layers\.(\d+)\.(weight|bias)$')


def _type(cfg: Optional[dict]) -> str:
    """Registry name without scope prefix (``mmseg.MoEViT`` -> ``MoEViT``)."""
    return str((cfg or {}).get('type', '')).split('.')[-1]


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
        model (dict): The s5_mm model config (``EncoderDecoder`` or
            ``MultiDatasetEncoderDecoder`` with an ``MoEViT`` backbone).
        state (dict): Its weights.
        dataset (str): The dataset to export.

    Returns:
        tuple(dict, dict): mmseg ``EncoderDecoder`` config and weights.
    """
    model = copy.deepcopy(model)
    kind = _type(model)
    backbone = model['backbone']
    if _type(backbone) not in MOE_BACKBONES and kind != MULTI_HEAD:
        raise ValueError(f'nothing to export: backbone {backbone["type"]} is '
                         'not an MoE backbone and the model has one head')
    names = list(backbone.get('dataset_names') or model['decode_heads'])
    if dataset not in names:
        raise ValueError(f"unknown dataset '{dataset}': the model has "
                         f'{names}')
    heads = OrderedDict()
    if kind == MULTI_HEAD:
        model['type'] = SINGLE_HEAD
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
    elif kind == SINGLE_HEAD:
        heads.update((k, v) for k, v in state.items()
                     if k.startswith(('decode_head.', 'auxiliary_head.')))
    else:
        raise ValueError(f'cannot export a {model["type"]}: supported models '
                         f'are {SINGLE_HEAD} and {MULTI_HEAD}')
    body = OrderedDict((k, v) for k, v in state.items()
                       if k.startswith(('backbone.', 'neck.')))
    if _type(backbone) in MOE_BACKBONES:
        body = dense_ffn_state(body, names.index(dataset))
        backbone['type'] = 'VisionTransformer'
        for key in ('dataset_names', 'expert_channels'):
            backbone.pop(key, None)
    for cfg in (model, backbone):
        cfg.pop('init_cfg', None)
        cfg.pop('pretrained', None)
    neck = model.get('neck')
    if _type(neck) == 'Feature2PyramidLN':
        from s5_mm.models.necks.feature2pyramid_ln import CHANNEL_LN
        neck['type'] = 'Feature2Pyramid'
        neck['norm_cfg'] = neck.get('norm_cfg') or dict(CHANNEL_LN)
    body.update(heads)
    return model, body


def s5_mm_types() -> Set[str]:
    """Registry names of every s5_mm class (in any OpenMMLab registry)."""
    import s5_mm  # noqa: F401  (registers everything)
    from mmengine.registry import Registry
    seen, names = set(), set()

    def visit(registry: Registry) -> None:
        if id(registry) in seen:
            return
        seen.add(id(registry))
        for name, cls in registry.module_dict.items():
            if getattr(cls, '__module__', '').startswith('s5_mm'):
                names.add(name)
        for child in registry.children.values():
            visit(child)

    import mmengine.registry as root
    for value in vars(root).values():
        if isinstance(value, Registry):
            visit(value)
    return names


def _strip_dataset_transform(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_dataset_transform(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(
            _strip_dataset_transform(v) for v in value
            if not (isinstance(v, dict) and _type(v) == DATASET_TRANSFORM))
    return value


def _uses(value: Any, types: Set[str]) -> bool:
    if isinstance(value, dict):
        return _type(value) in types or any(
            _uses(v, types) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_uses(v, types) for v in value)
    return False


def export_config(cfg: Config, model: dict) -> Config:
    """The config without s5_mm, with the exported model."""
    types = s5_mm_types()
    out = _strip_dataset_transform(cfg.to_dict())
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
    os.makedirs(out_dir, exist_ok=True)
    cfg_path = osp.join(out_dir, f'{dataset}.py')
    ckpt_path = osp.join(out_dir, f'{dataset}.pth')
    export_config(cfg, model).dump(cfg_path)
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
