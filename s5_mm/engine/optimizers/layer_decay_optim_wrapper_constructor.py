"""Layer-wise learning-rate decay for ViT backbones wherever they sit.

mmpretrain's ``LearningRateDecayOptimWrapperConstructor`` does the work
(per-parameter groups, lr scale ``rate ** (max_depth - depth - 1)``, weight
decay multipliers) but asks the *top-level* model for ``get_layer_depth``,
which mmseg's segmentors, teacher/student wrappers and multi-dataset models
do not have; mmseg's own constructor only looks at ``model.backbone`` and
only knows BEiT/MAE. This subclass finds every mmseg ``VisionTransformer``
(incl. :class:`~s5_mm.models.backbones.MoEViT`) in the model and gives
mmpretrain's constructor the depth function.
"""
from typing import Callable, List, Optional, Tuple

from mmengine.logging import print_log
from mmpretrain.engine.optimizers import \
    LearningRateDecayOptimWrapperConstructor
from mmseg.models.backbones import VisionTransformer
from mmseg.registry import OPTIM_WRAPPER_CONSTRUCTORS
from torch import nn

# parameters of a ViT at depth 0 (with the patch embedding)
_EMBEDDING_PARAMS = ('cls_token', 'pos_embed', 'mask_token')
_EMBEDDING_MODULES = ('patch_embed.', 'ln_pre.')


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class LayerDecayOptimWrapperConstructor(
        LearningRateDecayOptimWrapperConstructor):
    """Layer-wise lr decay for mmseg ViT / MoEViT backbones, no weight decay
    on norms, biases, position embedding and cls token.

    With ``L`` transformer layers, a parameter's lr is
    ``base_lr * layer_decay_rate ** (L + 1 - depth)`` where depth is 0 for the
    patch embedding, ``cls_token`` and ``pos_embed``, ``i + 1`` for layer
    ``i`` and ``L + 1`` for the rest of the backbone (final norm) and for
    everything outside the backbone (neck, heads): these keep ``base_lr``.
    Every ViT in the model is found (``model.backbone``,
    ``student.backbone``/``teacher.backbone``, multi-dataset models).

    Example:
        >>> optim_wrapper = dict(
        ...     type='OptimWrapper',
        ...     optimizer=dict(type='AdamW', lr=5e-5, weight_decay=0.05),
        ...     constructor='LayerDecayOptimWrapperConstructor',
        ...     paramwise_cfg=dict(layer_decay_rate=0.9, num_layers=12))

    Args:
        optim_wrapper_cfg (dict): The optim wrapper config.
        paramwise_cfg (dict, optional): ``layer_decay_rate`` (float),
            ``num_layers`` (int, optional: checked against the ViT found in
            the model), and any option of mmpretrain's
            ``LearningRateDecayOptimWrapperConstructor``. ``norm_decay_mult``,
            ``bias_decay_mult`` and ``flat_decay_mult`` default to 0 and
            ``custom_keys`` gets ``pos_embed``/``cls_token`` with
            ``decay_mult=0`` unless given.
    """

    def __init__(self,
                 optim_wrapper_cfg: dict,
                 paramwise_cfg: Optional[dict] = None):
        paramwise_cfg = dict(paramwise_cfg or {})
        if 'layer_decay_rate' not in paramwise_cfg:
            raise KeyError(
                'LayerDecayOptimWrapperConstructor needs paramwise_cfg='
                'dict(layer_decay_rate=..., num_layers=...)')
        self.num_layers = paramwise_cfg.pop('num_layers', None)
        for key in ('norm_decay_mult', 'bias_decay_mult', 'flat_decay_mult'):
            paramwise_cfg.setdefault(key, 0.)
        custom_keys = dict(paramwise_cfg.get('custom_keys', {}))
        for key in _EMBEDDING_PARAMS[:2]:
            custom_keys.setdefault(key, dict(decay_mult=0.))
        paramwise_cfg['custom_keys'] = custom_keys
        super().__init__(optim_wrapper_cfg, paramwise_cfg)

    def add_params(self,
                   params: List[dict],
                   module: nn.Module,
                   prefix: str = '',
                   get_layer_depth: Optional[Callable] = None,
                   **kwargs) -> None:
        """Add parameter groups; the depth function comes from the ViTs."""
        if get_layer_depth is None:
            get_layer_depth = self.vit_layer_depth(module)
        super().add_params(params, module, prefix, get_layer_depth, **kwargs)

    def vit_layer_depth(self, model: nn.Module) -> Callable:
        """Depth function ``name -> (depth, num_layers + 2)`` for ``model``."""
        vits = {name: m for name, m in model.named_modules()
                if isinstance(m, VisionTransformer)}
        if not vits:
            raise ValueError(
                'LayerDecayOptimWrapperConstructor found no mmseg '
                f'VisionTransformer / MoEViT in {type(model).__name__}: use '
                'another constructor for this backbone.')
        depths = {name: len(m.layers) for name, m in vits.items()}
        if len(set(depths.values())) > 1:
            raise ValueError(
                f'ViTs of different depths in the model: {depths}')
        num_layers = next(iter(depths.values()))
        if self.num_layers is not None and self.num_layers != num_layers:
            raise ValueError(
                f'paramwise_cfg.num_layers={self.num_layers} but the model\'s '
                f'ViT ({", ".join(n or "<model>" for n in vits)}) has '
                f'{num_layers} layers: set num_layers={num_layers}.')
        prefixes = tuple(f'{name}.' if name else '' for name in vits)
        print_log(
            f'layer-wise lr decay {self.paramwise_cfg["layer_decay_rate"]} '
            f'over {num_layers} layers of {list(vits) or ["<model>"]}',
            logger='current')

        def get_layer_depth(param_name: str) -> Tuple[int, int]:
            max_depth = num_layers + 2
            for prefix in prefixes:
                if not param_name.startswith(prefix):
                    continue
                name = param_name[len(prefix):]
                if name in _EMBEDDING_PARAMS or name.startswith(
                        _EMBEDDING_MODULES):
                    return 0, max_depth
                if name.startswith('layers.'):
                    return int(name.split('.')[1]) + 1, max_depth
            return max_depth - 1, max_depth

        return get_layer_depth
