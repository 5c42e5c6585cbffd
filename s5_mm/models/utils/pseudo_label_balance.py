"""Class-wise pseudo-label statistics against majority-class confirmation bias.

FixMatch keeps a pixel's pseudo-label when the teacher's confidence is above
one global threshold (0.95). On remote-sensing imagery the majority class is
predicted with the highest confidence, so nearly all kept pseudo-labels are
of the majority class and the minority classes learn nothing from the
unlabeled images. Two published remedies act per class:

* class-wise thresholds (``mode='freematch'`` or ``'flexmatch'``), lower for
  the classes the model is less sure of;
* class-frequency weights of the unsupervised loss (``weight_power > 0``),
  larger for the rarer predicted classes.

Both read running class statistics of the teacher's predictions on the weak
view. The per-batch sums are all-reduced over the ranks
(:func:`mmengine.dist.all_reduce`, a no-op outside DDP) before they enter
the running averages, so every rank holds the same statistics and the same
thresholds; DDP's buffer broadcast then changes nothing. The running
averages are buffers of this module: they are checkpointed and a resumed
run continues them.

Running averages are exponential moving averages with momentum ``m``,
bias-corrected as in Adam (``value = ema / (1 - m ** t)`` after ``t``
updates), so the first iteration uses its own batch statistics and short
schedules are not dominated by an arbitrary initial value.
"""
from typing import Optional, Union

import torch
import torch.nn as nn
from mmengine import dist
from torch import Tensor

CLASS_THR_MODES = (None, 'freematch', 'flexmatch')


def all_reduce_sum(tensor: Tensor) -> Tensor:
    """Sum ``tensor`` over the ranks in place (no-op outside DDP)."""
    dist.all_reduce(tensor, op='sum')
    return tensor


def flexmatch_mapping(beta: Tensor) -> Tensor:
    """FlexMatch's convex mapping ``M(x) = x / (2 - x)``."""
    return beta / (2 - beta)


class PseudoLabelClassStats(nn.Module):
    """Running class statistics of the teacher and the per-class rules.

    ``mode='freematch'``: self-adaptive thresholds of
    `FreeMatch <https://arxiv.org/abs/2205.07246>`_ (Wang et al., ICLR 2023),
    per pixel instead of per image. A global threshold ``tau_g`` = running
    mean of the max softmax over valid pixels; a local one per class
    ``p_c`` = running mean of the class-``c`` softmax; the threshold of class
    ``c`` is ``p_c / max_k p_k * tau_g``. ``conf_thr`` is not used.

    ``mode='flexmatch'``: curriculum thresholds of
    `FlexMatch <https://arxiv.org/abs/2110.08263>`_ (Zhang et al., NeurIPS
    2021), per pixel. The learning effect ``sigma_c`` = running share of
    valid pixels predicted as ``c`` with confidence > ``conf_thr``;
    ``beta_c = sigma_c / max(max_k sigma_k, 1 - sum_k sigma_k)`` (the
    warm-up form: the unused share counts as a class); threshold of class
    ``c`` = ``M(beta_c) * conf_thr`` with ``M(x) = x / (2 - x)``. FlexMatch
    counts each unlabeled sample's latest prediction over the dataset; a
    running average over batches stands in for that count here.

    ``weight_power = a > 0``: class-balanced weights in the sense of
    `Cui et al. <https://arxiv.org/abs/1901.05555>`_ (CVPR 2019), with the
    inverse-frequency form ``w_c = f_c ** -a`` where ``f_c`` is the running
    share of valid pixels the teacher predicts as ``c``; normalised so that
    ``sum_c f_c * w_c = 1`` (the mean weight over pixels stays 1), floored
    at ``f_c >= 1e-4``.

    Args:
        num_classes (int): Number of classes.
        mode (str, optional): ``None``, ``'freematch'`` or ``'flexmatch'``.
        weight_power (float): Exponent ``a`` of the class weights; 0 turns
            the weights off.
        momentum (float): EMA momentum of the running statistics, in [0, 1).
    """

    def __init__(self, num_classes: int, mode: Optional[str] = None,
                 weight_power: float = 0.0, momentum: float = 0.999) -> None:
        super().__init__()
        if mode not in CLASS_THR_MODES:
            raise ValueError(f'PseudoLabelClassStats: class_thr must be one '
                             f'of {CLASS_THR_MODES}, got {mode!r}')
        if not 0 <= momentum < 1:
            raise ValueError('PseudoLabelClassStats: class_stats_momentum '
                             f'must be in [0, 1), got {momentum}')
        if weight_power < 0:
            raise ValueError('PseudoLabelClassStats: class_weight_power '
                             f'must be >= 0, got {weight_power}')
        self.num_classes = num_classes
        self.mode = mode
        self.weight_power = weight_power
        self.momentum = momentum
        self.register_buffer('steps', torch.zeros((), dtype=torch.float64))
        # [global mean max-prob, per-class mean prob (C), per-class share of
        # confident predictions (C), per-class share of predictions (C)]
        self.register_buffer('ema', torch.zeros(1 + 3 * num_classes,
                                                dtype=torch.float64))

    @torch.no_grad()
    def update(self, probs: Tensor, ignore: Tensor, conf_thr: float) -> None:
        """Add one batch of teacher probabilities (all ranks' sums).

        Args:
            probs (Tensor): (B, C, H, W) softmax of the teacher (weak view).
            ignore (Tensor): (B, H, W) bool, True on padding.
            conf_thr (float): The fixed threshold (FlexMatch's ``tau``).
        """
        c = self.num_classes
        valid = (~ignore).flatten()
        p = probs.permute(0, 2, 3, 1).reshape(-1, c)[valid].double()
        conf, label = p.max(dim=1)
        sums = torch.cat([
            conf.sum()[None],
            p.sum(dim=0),
            torch.bincount(label[conf > conf_thr], minlength=c).double(),
            torch.bincount(label, minlength=c).double(),
            torch.tensor([float(valid.sum())], dtype=torch.float64,
                         device=p.device),
        ])
        all_reduce_sum(sums)
        batch = sums[:-1] / sums[-1].clamp(min=1)
        m = self.momentum
        self.ema.mul_(m).add_(batch.to(self.ema), alpha=1 - m)
        self.steps += 1

    def _value(self) -> Tensor:
        if self.steps.item() == 0:
            raise RuntimeError('PseudoLabelClassStats: call update() first')
        return self.ema / (1 - self.momentum**self.steps)

    def thresholds(self, conf_thr: float) -> Union[float, Tensor]:
        """Per-class thresholds (C,) float32, or ``conf_thr`` if mode is None.
        """
        if self.mode is None:
            return conf_thr
        c = self.num_classes
        v = self._value()
        if self.mode == 'freematch':
            tau_g, local = v[0], v[1:1 + c]
            thr = local / local.max().clamp(min=1e-12) * tau_g
        else:
            sigma = v[1 + c:1 + 2 * c]
            unused = (1 - sigma.sum()).clamp(min=0)
            denom = torch.maximum(sigma.max(), unused).clamp(min=1e-12)
            thr = flexmatch_mapping(sigma / denom) * conf_thr
        return thr.float()

    def class_weights(self) -> Optional[Tensor]:
        """Per-class loss weights (C,) float32, or None when off."""
        if self.weight_power == 0:
            return None
        c = self.num_classes
        freq = self._value()[1 + 2 * c:1 + 3 * c].clamp(min=1e-4)
        w = freq**-self.weight_power
        return (w / (freq * w).sum()).float()
