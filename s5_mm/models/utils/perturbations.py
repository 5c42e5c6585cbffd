"""The random perturbations of FixMatch / UniMatch and their seeded source.

- :func:`seeded_generator`: the random source of one training iteration,
  seeded by torch's initial seed, the rank and the iteration, so a resumed
  run draws what the uninterrupted run drew (no generator state to save).
- :func:`cutmix_boxes` and :func:`cutmix`: UniMatch's CutMix boxes, pasted
  from the batch in reverse order into the image and, with the same box,
  into every per-pixel target (pseudo-label, confidence, padding mask).
- :func:`channel_dropout`: UniMatch's feature perturbation (Dropout2d-like).
- :func:`complementary_channel_dropout`: UniMatch V2's dropout over two
  views of the same images, each keeping the channels the other drops.

Every function draws only from the ``generator`` it is given, in a fixed
order, on the CPU (the masks then move to the tensors' device), so the draws
do not depend on the device.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.dist import get_rank
from torch import Tensor


def seeded_generator(iteration: int,
                     rank: Optional[int] = None) -> torch.Generator:
    """The CPU generator of one training iteration.

    Seeded with ``torch.initial_seed() + 1000003 * (iteration + 1) +
    7919 * rank`` (modulo 2 ** 63): reproducible from the run's seed alone,
    different on every rank and every iteration.

    Args:
        iteration (int): The (0-based) training iteration.
        rank (int, optional): The process rank. Defaults to this process's
            (:func:`mmengine.dist.get_rank`).

    Returns:
        torch.Generator: A freshly seeded CPU generator.
    """
    rank = get_rank() if rank is None else rank
    seed = torch.initial_seed() + 1000003 * (iteration + 1) + 7919 * rank
    return torch.Generator().manual_seed(seed % (2**63))


def cutmix_boxes(num: int, height: int, width: int, prob: float,
                 area: Sequence[float], ratio: Sequence[float],
                 generator: torch.Generator) -> Tensor:
    """Random CutMix boxes as masks, as in UniMatch's ``obtain_cutmix_box``.

    With probability ``prob`` a sample gets a box whose area is a uniform
    fraction ``area`` of the image and whose aspect ratio h/w is uniform in
    ``ratio``, placed uniformly inside the image; otherwise an empty mask.

    Args:
        num (int): Number of masks (the batch size).
        height (int): Mask height.
        width (int): Mask width.
        prob (float): Probability that a sample gets a box.
        area (Sequence[float]): (min, max) fraction of the image area.
        ratio (Sequence[float]): (min, max) aspect ratio h / w.
        generator (torch.Generator): Source of the random numbers (5 per
            sample, drawn at once).

    Returns:
        Tensor: bool (num, height, width), True inside the box.
    """
    masks = torch.zeros(num, height, width, dtype=torch.bool)
    rnd = torch.rand(num, 5, generator=generator, dtype=torch.float64)
    for i in range(num):
        if rnd[i, 0] >= prob:
            continue
        frac = area[0] + (area[1] - area[0]) * rnd[i, 1].item()
        size = frac * height * width
        r = ratio[0] + (ratio[1] - ratio[0]) * rnd[i, 2].item()
        box_w = min(max(int((size / r)**0.5), 1), width)
        box_h = min(max(int((size * r)**0.5), 1), height)
        x = int(rnd[i, 3].item() * (width - box_w + 1))
        y = int(rnd[i, 4].item() * (height - box_h + 1))
        masks[i, y:y + box_h, x:x + box_w] = True
    return masks


def cutmix(image: Tensor, targets: Sequence[Tensor], prob: float,
           area: Sequence[float], ratio: Sequence[float],
           generator: torch.Generator) -> Tuple[Tensor, List[Tensor]]:
    """CutMix a batch with itself in reverse order.

    Sample ``i`` gets, inside its box (:func:`cutmix_boxes`), the pixels of
    sample ``B - 1 - i``: the same box for the image and every target.

    Args:
        image (Tensor): (B, C, H, W) images.
        targets (Sequence[Tensor]): (B, H, W) per-pixel maps mixed alike.
        prob (float): Probability that a sample gets a box.
        area (Sequence[float]): (min, max) fraction of the image area.
        ratio (Sequence[float]): (min, max) aspect ratio h / w.
        generator (torch.Generator): Source of the boxes.

    Returns:
        tuple[Tensor, list[Tensor]]: The mixed image and the mixed targets.
    """
    b, _, h, w = image.shape
    box = cutmix_boxes(b, h, w, prob, area, ratio, generator).to(image.device)
    mixed = torch.where(box[:, None], image.flip(0), image)
    return mixed, [torch.where(box, t.flip(0), t) for t in targets]


def channel_dropout(feats: Sequence[Tensor], drop_prob: float,
                    generator: torch.Generator) -> List[Tensor]:
    """Dropout2d-like channel dropout (UniMatch's feature perturbation).

    Each (sample, channel) of each level is zeroed with probability
    ``drop_prob``, the others are scaled by ``1 / (1 - drop_prob)``.

    Args:
        feats (Sequence[Tensor]): (B, C, H, W) feature maps.
        drop_prob (float): Dropout probability, in [0, 1).
        generator (torch.Generator): Source of the masks (one per level).

    Returns:
        list[Tensor]: The perturbed feature maps.
    """
    out = []
    for f in feats:
        keep = torch.rand(f.shape[:2], generator=generator) >= drop_prob
        scale = (keep.to(f) / (1 - drop_prob))[..., None, None]
        out.append(f * scale.to(f.device))
    return out


def complementary_channel_dropout(feats: Sequence[Tensor], keep_ratio: float,
                                  generator: torch.Generator) -> List[Tensor]:
    """UniMatch V2's complementary channel dropout over two views.

    The batch is [view 1; view 2] of the same ``n`` images. View 1 keeps a
    random half of the channels (x2), view 2 the other half (x2); a random
    ``keep_ratio`` share of the images is left undropped in both views.
    Levels of equal width share one mask.

    Args:
        feats (Sequence[Tensor]): (2n, C, H, W) feature maps.
        keep_ratio (float): Share of the images left undropped.
        generator (torch.Generator): Source of the choice and the masks.

    Returns:
        list[Tensor]: The perturbed feature maps.
    """
    n = feats[0].shape[0] // 2
    kept = torch.randperm(n, generator=generator)[:int(n * keep_ratio)]
    masks: Dict[int, Tensor] = {}
    out = []
    for f in feats:
        c = f.shape[1]
        if c not in masks:
            m1 = (torch.rand(n, c, generator=generator) < 0.5).float() * 2
            m2 = 2 - m1
            m1[kept] = 1.0
            m2[kept] = 1.0
            masks[c] = torch.cat([m1, m2]).to(f)
        out.append(f * masks[c][..., None, None].to(f.device))
    return out
