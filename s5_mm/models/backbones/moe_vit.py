"""MoE-FFN Vision Transformer (MoEViT) of S5: mmseg's ViT with a shared part
and one expert per dataset in every FFN's output projection."""
import inspect
import math
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmcv.cnn.bricks.transformer import FFN
from mmengine.model import ModuleList
from mmengine.runner.checkpoint import _load_checkpoint, load_state_dict
from mmseg.models.backbones.vit import (TransformerEncoderLayer,
                                        VisionTransformer)
from mmseg.registry import MODELS
from torch import Tensor

from s5_mm.models.utils.routing import (check_dataset_names,
                                       dataset_ids_from_names)

# One contiguous run of samples (after sorting the batch by dataset id) that
# shares an expert: (expert id, first sample, end sample).
ExpertGroups = Tuple[Tuple[int, int, int], ...]
#: dataset of each sample: ids or names, per sample or for the whole batch
DatasetIds = Union[Tensor, int, str, Sequence[Union[int, str]], None]


class MoEFFN(FFN):
    """mmcv's FFN whose output projection is a shared part plus experts.

    Parameter names follow the authors' layout: ``layers.{num_fcs - 1}`` is
    the shared fc2 (``C - P`` outputs) and ``experts.k`` the expert of the
    k-th dataset (``P`` outputs).

    Args:
        num_experts (int): Number of datasets (experts).
        expert_channels (int): Output channels P of each expert.
        **kwargs: Arguments of :class:`mmcv.cnn.bricks.transformer.FFN`.
    """

    def __init__(self, num_experts: int, expert_channels: int, **kwargs):
        super().__init__(**kwargs)
        hidden, dims = self.feedforward_channels, self.embed_dims
        self.expert_channels = expert_channels
        self.layers[-2] = nn.Linear(hidden, dims - expert_channels)
        self.experts = ModuleList(
            nn.Linear(hidden, expert_channels) for _ in range(num_experts))

    @property
    def shared_fc(self) -> nn.Linear:
        """The shared part of fc2 (``C - P`` output channels)."""
        return self.layers[-2]

    def project(self, hidden: Tensor, groups: ExpertGroups) -> Tensor:
        """fc2 of the MoE FFN: every group of samples (the batch is sorted by
        dataset id) goes through ``[shared; expert_k]``, the shared rows
        followed by its own expert's rows. One matrix product per group, as
        fast as a dense fc2; no expert sees another dataset's samples."""
        shared = self.shared_fc
        outs = []
        for k, start, end in groups:
            expert = self.experts[k]
            part = hidden if len(groups) == 1 else hidden[start:end]
            outs.append(
                F.linear(part, torch.cat([shared.weight, expert.weight]),
                         torch.cat([shared.bias, expert.bias])))
        return outs[0] if len(outs) == 1 else torch.cat(outs)

    def forward(self,
                x: Tensor,
                groups: ExpertGroups,
                identity: Optional[Tensor] = None) -> Tensor:
        """Same as ``FFN.forward`` with the routed fc2."""
        out = x
        for i in range(len(self.layers) - 2):  # fc1, activation, dropout
            out = self.layers[i](out)
        out = self.layers[-1](self.project(out, groups))
        out = self.gamma2(out)
        if not self.add_identity:
            return self.dropout_layer(out)
        if identity is None:
            identity = x
        return identity + self.dropout_layer(out)


class MoETransformerEncoderLayer(TransformerEncoderLayer):
    """mmseg's ViT encoder layer with a :class:`MoEFFN`.

    The expert groups of the batch are an argument of ``forward`` (given by
    :class:`MoEViT`); they are bound into the (possibly checkpointed) inner
    forward, so recomputation in the backward pass routes exactly like the
    forward did.
    """

    def build_ffn(self, ffn_cfg: dict) -> None:
        """Build the MoE FFN instead of mmcv's dense FFN."""
        self.ffn = MoEFFN(**ffn_cfg)

    def forward(self, x: Tensor, groups: ExpertGroups) -> Tensor:
        """Attention + routed FFN of tokens ``x`` sorted by dataset.

        Args:
            x (Tensor): Tokens (B, N, C), samples sorted by dataset id.
            groups (ExpertGroups): ``(expert id, first, end)`` per run of
                samples of one dataset (from :meth:`MoEViT.expert_groups`).
        """

        def _inner_forward(x):
            x = self.attn(self.norm1(x), identity=x)
            return self.ffn(self.norm2(x), groups, identity=x)

        if self.with_cp and x.requires_grad:
            return cp.checkpoint(_inner_forward, x, use_reentrant=False)
        return _inner_forward(x)


_VIT_DEFAULTS = {
    name: p.default
    for name, p in inspect.signature(
        VisionTransformer.__init__).parameters.items()
    if p.default is not inspect.Parameter.empty
}


@MODELS.register_module()
class MoEViT(VisionTransformer):
    """Vision Transformer with dataset-specific FFN experts (MoE-MDF of S5).

    `S5: Scalable Semi-Supervised Semantic Segmentation in Remote Sensing
    <https://arxiv.org/abs/2508.12409>`_.

    Every layer's fc2 (``hidden -> C``) is split into a shared linear with
    ``C - P`` outputs and one expert with ``P`` outputs per dataset, whose
    outputs are concatenated. Only the expert of a sample's own dataset runs,
    so a forward costs what a dense ViT forward costs, also for batches that
    mix datasets. A dense mmseg
    ``VisionTransformer`` state dict loads directly (``load_state_dict`` or
    ``init_cfg=dict(type='Pretrained', ...)``): the first ``C - P`` rows of the
    dense fc2 become the shared part and the last ``P`` rows are copied into
    every expert, so the model then computes exactly the dense ViT.

    Args:
        dataset_names (Sequence[str]): Dataset names; their order fixes the
            expert ids.
        expert_channels (int): Output channels P of each expert,
            ``0 < P < embed_dims``.
        **kwargs: Arguments of mmseg's ``VisionTransformer``.
    """

    def __init__(self, dataset_names: Sequence[str], expert_channels: int,
                 **kwargs):
        unknown = set(kwargs) - set(_VIT_DEFAULTS)
        if unknown:
            raise TypeError(f'MoEViT got unknown arguments {sorted(unknown)}')
        cfg = {**_VIT_DEFAULTS, **kwargs}
        dataset_names = check_dataset_names(dataset_names,
                                            'MoEViT dataset_names')
        embed_dims = cfg['embed_dims']
        if not isinstance(expert_channels, int) or not (
                0 < expert_channels < embed_dims):
            raise ValueError(
                f'MoEViT: expert_channels must be an int with 0 < '
                f'expert_channels < embed_dims={embed_dims}, got '
                f'{expert_channels!r}')
        num_layers = cfg['num_layers']
        out_indices = cfg['out_indices']
        if out_indices == -1:
            out_indices = num_layers - 1
        # Build VisionTransformer without layers, then the MoE layers.
        super().__init__(**{**kwargs, 'num_layers': 0,
                            'out_indices': out_indices})
        self.dataset_names = dataset_names
        self.embed_dims = embed_dims
        self.expert_channels = expert_channels
        dpr = torch.linspace(  # on CPU: works under torch.device('meta')
            0, cfg['drop_path_rate'], num_layers, device='cpu').tolist()
        self.layers = ModuleList(
            MoETransformerEncoderLayer(
                embed_dims=embed_dims,
                num_heads=cfg['num_heads'],
                feedforward_channels=cfg['mlp_ratio'] * embed_dims,
                attn_drop_rate=cfg['attn_drop_rate'],
                drop_rate=cfg['drop_rate'],
                drop_path_rate=dpr[i],
                num_fcs=cfg['num_fcs'],
                qkv_bias=cfg['qkv_bias'],
                act_cfg=cfg['act_cfg'],
                norm_cfg=cfg['norm_cfg'],
                with_cp=cfg['with_cp'],
                batch_first=True,
                attn_cfg=dict(),
                ffn_cfg=dict(
                    num_experts=len(self.dataset_names),
                    expert_channels=expert_channels))
            for i in range(num_layers))
        self._freeze()
        self.register_load_state_dict_pre_hook(_load_dense_pre_hook)

    def init_weights(self) -> None:
        """Initialise; ``init_cfg=dict(type='Pretrained', checkpoint=...,
        prefix=...)`` loads a dense or MoE checkpoint (``prefix`` selects a
        sub-model, e.g. ``'backbone.'`` of a segmentor checkpoint, which
        mmseg's ``VisionTransformer`` ignores) and resizes ``pos_embed``."""
        cfg = self.init_cfg
        if not (isinstance(cfg, dict) and cfg.get('type') == 'Pretrained'):
            return super().init_weights()
        path = cfg['checkpoint']
        ckpt = _load_checkpoint(path, map_location='cpu')
        for key in ('state_dict', 'model'):
            if isinstance(ckpt, dict) and isinstance(ckpt.get(key), dict):
                ckpt = ckpt[key]
                break
        prefix = cfg.get('prefix') or ''
        if prefix and not prefix.endswith('.'):
            prefix += '.'
        state = {
            k[len(prefix):]: v
            for k, v in ckpt.items() if k.startswith(prefix)
        }
        own = self.state_dict()
        if not set(state) & set(own):
            found = sorted({k.split('.')[0] + '.' for k in ckpt})[:8]
            raise KeyError(
                f'{path} has no weights of this backbone under prefix '
                f"'{prefix}' (its keys start with {found}): set "
                "init_cfg.prefix, e.g. prefix='backbone.' for a segmentor "
                'checkpoint')
        pos = state.get('pos_embed')
        if pos is not None and pos.shape != self.pos_embed.shape:
            side = math.isqrt(pos.shape[1] - 1)
            grid = (self.img_size[0] // self.patch_size,
                    self.img_size[1] // self.patch_size)
            state['pos_embed'] = self.resize_pos_embed(
                pos, grid, (side, side), self.interpolate_mode)
        load_state_dict(self, state, strict=False, logger='current')

    def expert_groups(self, dataset_ids: DatasetIds, batch_size: int
                      ) -> Tuple[ExpertGroups, Optional[Tensor]]:
        """Validate a batch's dataset ids (see :meth:`forward`); return its
        expert groups (after sorting by id) and the sorting permutation
        (None if the batch is sorted already)."""
        names = self.dataset_names
        if isinstance(dataset_ids, str):
            dataset_ids = int(dataset_ids_from_names([dataset_ids], names)[0])
        elif isinstance(dataset_ids, (list, tuple)) and any(
                isinstance(i, str) for i in dataset_ids):
            if not all(isinstance(i, str) for i in dataset_ids):
                raise ValueError(
                    'dataset_ids mixes names and ids: pass all names (of '
                    f'{names}) or all ids, got {list(dataset_ids)}')
            dataset_ids = dataset_ids_from_names(dataset_ids, names)
        if dataset_ids is None:
            if len(names) > 1:
                raise ValueError(
                    f'MoEViT with datasets {names} needs dataset_ids (an int '
                    'or a LongTensor of shape (B,)) in forward.')
            dataset_ids = 0
        if isinstance(dataset_ids, int):
            if not 0 <= dataset_ids < len(names):
                raise ValueError(
                    f'dataset id {dataset_ids} out of range: valid ids are '
                    f'0..{len(names) - 1} for datasets {names}')
            return ((dataset_ids, 0, batch_size), ), None
        ids = torch.as_tensor(dataset_ids)
        if ids.dtype.is_floating_point or ids.shape != (batch_size, ):
            raise ValueError(
                'dataset_ids must be an int or an integer tensor of shape '
                f'({batch_size},), got {ids.dtype} of shape '
                f'{tuple(ids.shape)}')
        ids_list = ids.tolist()
        bad = sorted({i for i in ids_list if not 0 <= i < len(names)})
        if bad:
            raise ValueError(f'dataset ids {bad} out of range: valid ids are '
                             f'0..{len(names) - 1} for datasets {names}')
        perm = None
        if any(a > b for a, b in zip(ids_list, ids_list[1:])):
            perm = torch.argsort(ids, stable=True)
            ids_list = sorted(ids_list)
        groups, start = [], 0
        for end in range(1, batch_size + 1):
            if end == batch_size or ids_list[end] != ids_list[start]:
                groups.append((ids_list[start], start, end))
                start = end
        return tuple(groups), perm

    def forward(self, inputs: Tensor, dataset_ids: DatasetIds = None) -> tuple:
        """Forward with every sample routed to its dataset's expert.

        Args:
            inputs (Tensor): Images of shape (B, C, H, W).
            dataset_ids (Tensor | int | str | Sequence, optional): Dataset
                per sample: ids (positions in ``dataset_names``) as a tensor
                or list of shape (B,), or names as a list of B str; or one id
                or name for the whole batch. May be omitted with a single
                dataset. An unknown name is a ValueError listing the
                known ones.

        Returns:
            tuple: The feature maps of VisionTransformer, in input order.
        """
        groups, perm = self.expert_groups(dataset_ids, inputs.shape[0])
        if perm is not None:
            inputs = inputs[perm.to(inputs.device)]
        outs = self._forward_routed(inputs, groups)
        if perm is None:
            return outs
        inverse = torch.argsort(perm).to(inputs.device)
        # each output is a feature map or [feature map, cls token]
        return tuple(out[inverse] if isinstance(out, Tensor) else
                     [o[inverse] for o in out] for out in outs)

    def _forward_routed(self, inputs: Tensor, groups: ExpertGroups) -> tuple:
        """mmseg's ``VisionTransformer.forward`` with ``layer(x, groups)``
        (mmseg calls ``layer(x)``, leaving no way to pass the routing);
        tested equal to it for every output option."""
        x, hw_shape = self.patch_embed(inputs)
        x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1)
        x = self._pos_embeding(x, hw_shape, self.pos_embed)
        if not self.with_cls_token:
            x = x[:, 1:]
        if self.pre_norm:
            x = self.pre_ln(x)
        outs = [self._feature_map(x, hw_shape)] if self.out_origin else []
        for i, layer in enumerate(self.layers):
            x = layer(x, groups)
            if i == len(self.layers) - 1 and self.final_norm:
                x = self.norm1(x)
            if i in self.out_indices:
                outs.append(self._feature_map(x, hw_shape))
        return tuple(outs)

    def _feature_map(self, x: Tensor, hw_shape: Tuple[int, int]):
        """Tokens -> (B, C, H, W) map (and the cls token, if asked), as
        mmseg's ``VisionTransformer.forward`` outputs them."""
        out = x[:, 1:] if self.with_cls_token else x
        out = out.reshape(out.shape[0], hw_shape[0], hw_shape[1],
                          out.shape[2]).permute(0, 3, 1, 2).contiguous()
        return [out, x[:, 0]] if self.output_cls_token else out


def _load_dense_pre_hook(module: MoEViT, state_dict: dict, prefix: str,
                         *args) -> None:
    """Split dense fc2 weights into shared part + experts, check shapes.

    A dense ``layers.i.ffn.layers.{num_fcs-1}`` (C outputs) without
    ``experts`` keys is split: rows ``[:C-P]`` -> shared, ``[C-P:]`` -> every
    expert. Then every backbone key must match the model's shape, else a
    ValueError names the key and both shapes (mmengine's non-strict loading
    would only warn).
    """
    dims, p = module.embed_dims, module.expert_channels
    for i, layer in enumerate(module.layers):
        ffn = f'{prefix}layers.{i}.ffn.'
        fc2 = f'{ffn}layers.{len(layer.ffn.layers) - 2}.'
        w = state_dict.get(fc2 + 'weight')
        if w is None or w.shape[0] != dims:
            continue
        if any(k.startswith(ffn + 'experts.') for k in state_dict):
            raise ValueError(
                f"checkpoint has a dense '{fc2}weight' of shape "
                f'{tuple(w.shape)} AND expert weights under '
                f"'{ffn}experts.': it is neither a dense nor an MoEViT "
                'checkpoint')
        for name in ('weight', 'bias'):
            if fc2 + name not in state_dict:
                continue
            dense = state_dict.pop(fc2 + name)
            state_dict[fc2 + name] = dense[:dims - p]
            for k in range(len(layer.ffn.experts)):
                state_dict[f'{ffn}experts.{k}.{name}'] = dense[dims - p:]
    own = dict(module.named_parameters())
    own.update(module.named_buffers())
    for name, value in own.items():
        loaded = state_dict.get(prefix + name)
        if loaded is not None and tuple(loaded.shape) != tuple(value.shape):
            raise ValueError(
                f"checkpoint key '{prefix + name}' has shape "
                f'{tuple(loaded.shape)} but MoEViT (embed_dims={dims}, '
                f'expert_channels={p}, {len(module.dataset_names)} datasets) '
                f'expects {tuple(value.shape)}: build the model with the '
                'dimensions of the checkpoint or convert it first '
                '(tools/model_converters/).')
