"""Class-frequency weights of FixMatch's unsupervised loss, against
majority-class confirmation bias.

FixMatch keeps a pixel's pseudo-label when the teacher's confidence is above
one global threshold (0.95). On remote-sensing imagery the majority class is
predicted with the highest confidence, so nearly all kept pseudo-labels are
of the majority class, and training on them erases the minority classes.
Weighting each pixel's unsupervised loss by the inverse frequency of its
pseudo-label's class counters that (``bench/s4p_gain.py``, docs/s4p.md).

The class frequencies are running statistics of the teacher's predictions on
the weak view. The per-batch counts are all-reduced over the ranks
(:func:`mmengine.dist.all_reduce`, a no-op outside DDP) before they enter
the running average, so every rank holds the same statistics and the same
weights; DDP's buffer broadcast then changes nothing. The running average
is a buffer of this module: it is checkpointed and a resumed run continues
it.

The running average is an exponential moving average with momentum ``m``,
bias-corrected as in Adam (``value = ema / (1 - m ** t)`` after ``t``
updates), so the first iteration uses its own batch statistics and short
schedules are not dominated by an arbitrary initial value.
"""

import torch
import torch.nn as nn
from mmengine import dist
from torch import Tensor


class PseudoLabelClassStats(nn.Module):
    """Running class frequencies of the teacher and the class weights.

    ``weight_power = a > 0``: class-balanced weights in the sense of
    `Cui et al. <https://arxiv.org/abs/1901.05555>`_ (CVPR 2019), with the
    inverse-frequency form ``w_c = f_c ** -a`` where ``f_c`` is the running
    share of valid pixels the teacher predicts as ``c`` (argmax, whatever
    the confidence); normalised so that ``sum_c f_c * w_c = 1`` (the mean
    weight over pixels stays 1), floored at ``f_c >= 1e-4``.

    Args:
        num_classes (int): Number of classes.
        weight_power (float): Exponent ``a`` of the class weights, > 0.
        momentum (float): EMA momentum of the running statistics, in [0, 1).
    """

    def __init__(self, num_classes: int, weight_power: float,
                 momentum: float = 0.999) -> None:
        super().__init__()
        if not 0 <= momentum < 1:
            raise ValueError('PseudoLabelClassStats: class_stats_momentum '
                             f'must be in [0, 1), got {momentum}')
        if weight_power <= 0:
            raise ValueError('PseudoLabelClassStats: class_weight_power '
                             f'must be > 0 (0 = off), got {weight_power}')
        self.num_classes = num_classes
        self.weight_power = weight_power
        self.momentum = momentum
        self.register_buffer('steps', torch.zeros((), dtype=torch.float64))
        # per-class share of the teacher's predictions
        self.register_buffer('ema', torch.zeros(num_classes,
                                                dtype=torch.float64))

    @torch.no_grad()
    def update(self, probs: Tensor, ignore: Tensor) -> None:
        """Add one batch of teacher probabilities (all ranks' counts).

        Args:
            probs (Tensor): (B, C, H, W) softmax of the teacher (weak view).
            ignore (Tensor): (B, H, W) bool, True on padding.
        """
        c = self.num_classes
        valid = ~ignore
        label = probs.argmax(dim=1)[valid]
        counts = torch.cat([
            torch.bincount(label, minlength=c).double(),
            valid.sum().double()[None],
        ])
        dist.all_reduce(counts, op='sum')  # no-op outside DDP
        batch = counts[:-1] / counts[-1].clamp(min=1)
        m = self.momentum
        self.ema.mul_(m).add_(batch.to(self.ema), alpha=1 - m)
        self.steps += 1

    def class_weights(self) -> Tensor:
        """Per-class loss weights (C,) float32."""
        if self.steps.item() == 0:
            raise RuntimeError('PseudoLabelClassStats: call update() first')
        freq = (self.ema / (1 - self.momentum**self.steps)).clamp(min=1e-4)
        w = freq**-self.weight_power
        return (w / (freq * w).sum()).float()
