"""Per-image prediction entropy and pooled features (pure tensor functions).

The selection score of S5 (arXiv 2508.12409) is the mean over pixels of
the softmax entropy, ``H(x) = mean_ij(-sum_c p_ijc log p_ijc)``; padding and
ignored pixels do not count. Low entropy means reliable pseudo-labels.
"""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor


def entropy_map(probs: Tensor, dim: int = 1) -> Tensor:
    """Per-pixel entropy ``-sum_c p log p`` of a probability map.

    ``0 * log 0`` counts as 0 (``torch.special.xlogy``).

    Args:
        probs (Tensor): Probabilities, e.g. ``(B, C, H, W)``, summing to 1
            along ``dim``.
        dim (int): Class dimension. Defaults to 1.

    Returns:
        Tensor: Entropy in nats with ``dim`` removed, e.g. ``(B, H, W)``.
    """
    return -torch.special.xlogy(probs, probs).sum(dim)


def entropy_map_from_logits(logits: Tensor, dim: int = 1) -> Tensor:
    """Per-pixel softmax entropy computed stably from logits."""
    log_p = F.log_softmax(logits.float(), dim=dim)
    return -(log_p.exp() * log_p).sum(dim)


def masked_mean(values: Tensor, valid: Optional[Tensor] = None) -> Tensor:
    """Mean of ``values`` ``(B, H, W)`` over the valid pixels of each image.

    Args:
        values (Tensor): Per-pixel values ``(B, H, W)``.
        valid (Tensor, optional): Bool mask ``(B, H, W)``; None = all valid.

    Returns:
        Tensor: ``(B, )`` means.

    Raises:
        ValueError: if an image has no valid pixel (its mean is undefined).
    """
    if valid is None:
        return values.flatten(1).mean(1)
    if valid.shape != values.shape:
        raise ValueError(f'valid mask shape {tuple(valid.shape)} differs from '
                         f'the value map shape {tuple(values.shape)}')
    count = valid.flatten(1).sum(1)
    if bool((count == 0).any()):
        bad = torch.nonzero(count == 0).flatten().tolist()
        raise ValueError(f'images {bad} of the batch have no valid pixel; '
                         'their mean entropy is undefined')
    total = torch.where(valid, values, values.new_zeros(())).flatten(1).sum(1)
    return total / count.to(values.dtype)


def mean_entropy(logits: Tensor,
                 valid: Optional[Tensor] = None,
                 seg_label: Optional[Tensor] = None,
                 ignore_index: int = 255) -> Tensor:
    """Mean per-pixel softmax entropy of each image.

    Args:
        logits (Tensor): Segmentation logits ``(B, C, H, W)``.
        valid (Tensor, optional): Bool mask ``(B, H, W)`` of real (not
            padded) pixels; None = all pixels.
        seg_label (Tensor, optional): ``(B, H, W)`` labels; pixels equal to
            ``ignore_index`` are excluded too.
        ignore_index (int): Ignored label value. Defaults to 255.

    Returns:
        Tensor: ``(B, )`` float32 mean entropies in nats (0 .. log C).
    """
    ent = entropy_map_from_logits(logits)
    if seg_label is not None:
        keep = seg_label != ignore_index
        valid = keep if valid is None else (valid & keep)
    return masked_mean(ent, valid)


def padding_valid_mask(batch_size: int, height: int, width: int,
                       paddings, device=None) -> Tensor:
    """Bool mask ``(B, H, W)`` of non-padded pixels.

    Args:
        paddings: Per image ``(left, right, top, bottom)`` padding, in pixels
            of the ``(H, W)`` map (mmseg's ``padding_size`` order).
    """
    valid = torch.zeros(batch_size, height, width, dtype=torch.bool,
                        device=device)
    for i, (left, right, top, bottom) in enumerate(paddings):
        valid[i, top:height - bottom, left:width - right] = True
    return valid


def masked_avg_pool(feat: Tensor, valid: Optional[Tensor] = None) -> Tensor:
    """Global average pool of ``(B, C, h, w)`` features over valid pixels.

    The pixel mask (any resolution) is brought to ``(h, w)`` by area
    interpolation, so a feature cell half covered by padding gets weight 1/2.

    Args:
        feat (Tensor): Feature map ``(B, C, h, w)``.
        valid (Tensor, optional): Bool mask ``(B, H, W)`` of real pixels.

    Returns:
        Tensor: ``(B, C)`` float32 pooled features.
    """
    feat = feat.float()
    if valid is None:
        return feat.mean((2, 3))
    weight = F.interpolate(
        valid[:, None].float(), size=feat.shape[-2:], mode='area')
    denom = weight.flatten(1).sum(1).clamp_min(1e-6)
    return (feat * weight).flatten(2).sum(2) / denom[:, None]
