"""Test modes that merge softmax probabilities, as the S5 authors' evaluation
does (MiliLab/S5 ``RS_Finetune/Semantic_Segmentation/evaluate.py`` with
``util/test_utils.py: net_process``).

Chosen by a segmentor's ``test_cfg`` (per dataset in
:class:`~s5_mm.models.segmentors.MultiDatasetEncoderDecoder`); the
segmentor's ``encode_decode`` gives the logits of one view at its input
size. Each mode returns probabilities at the input size, which mmseg's
``postprocess_result`` takes as logits (same argmax):

- ``mode='resize'``: the normalised input is resized to ``resize_size``
  (bilinear, ``resize_align_corners``), predicted, turned into softmax
  probabilities and resized back to the input size with the same
  ``align_corners`` (their ``resize`` mode; 512 and ``True``);
- ``mode='slide_prob_sum'``: windows of ``crop_size`` start at every
  multiple ``k * stride`` (``k = 0 .. size // stride``) clipped to the
  image edge, so the last window can repeat; the windows' softmax
  probabilities are summed (their ``slide_window`` mode: 512 / 256);
- ``mode='whole'`` with ``flip_directions`` (``'horizontal'`` and / or
  ``'vertical'``): the mean softmax of the image and its flips, flipped back
  (their ``original`` mode: both flips).

Any other ``test_cfg`` is left to mmseg (``whole`` / ``slide``).
"""
from typing import Callable, List, Sequence

import torch.nn.functional as F
from mmengine.config import ConfigDict
from torch import Tensor

PROB_MODES = ('resize', 'slide_prob_sum')
_FLIP_DIMS = {'horizontal': 3, 'vertical': 2}

EncodeDecode = Callable[[Tensor, List[dict]], Tensor]


def is_prob_mode(test_cfg: ConfigDict) -> bool:
    """Whether ``test_cfg`` asks for one of this module's modes."""
    return test_cfg.get('mode', 'whole') in PROB_MODES or bool(
        test_cfg.get('flip_directions'))


def _metas(batch_img_metas: List[dict], shape: Sequence[int]) -> List[dict]:
    """Copies of the metas whose image / pad shape is ``shape`` (the size a
    head resizes its logits to)."""
    shape = tuple(int(s) for s in shape)
    return [dict(m, img_shape=shape, pad_shape=shape) for m in batch_img_metas]


def _probs(encode_decode: EncodeDecode, inputs: Tensor,
           batch_img_metas: List[dict]) -> Tensor:
    logits = encode_decode(inputs, _metas(batch_img_metas, inputs.shape[2:]))
    return logits.softmax(dim=1)


def flip_probs(encode_decode: EncodeDecode, inputs: Tensor,
               batch_img_metas: List[dict],
               directions: Sequence[str] = ()) -> Tensor:
    """Mean softmax of ``inputs`` and its flips in ``directions``."""
    unknown = set(directions) - set(_FLIP_DIMS)
    if unknown:
        raise ValueError(f'test_cfg.flip_directions: unknown {sorted(unknown)}'
                         f'; use {sorted(_FLIP_DIMS)}')
    probs = _probs(encode_decode, inputs, batch_img_metas)
    for direction in directions:
        dim = _FLIP_DIMS[direction]
        probs = probs + _probs(encode_decode, inputs.flip(dim),
                               batch_img_metas).flip(dim)
    return probs / (1 + len(directions))


def window_starts(size: int, crop: int, stride: int) -> List[int]:
    """Window starts ``min(k * stride, size - crop)``, ``k = 0 .. size //
    stride`` (repeats kept)."""
    if size < crop:
        raise ValueError(f"test_cfg mode 'slide_prob_sum': image side {size} "
                         f'is smaller than crop_size {crop}; use whole or '
                         'resize inference for such images')
    return [min(k * stride, size - crop) for k in range(size // stride + 1)]


def slide_prob_sum(encode_decode: EncodeDecode, inputs: Tensor,
                   batch_img_metas: List[dict], crop_size: Sequence[int],
                   stride: Sequence[int]) -> Tensor:
    """Sum of the softmax of every window (see the module docstring)."""
    (ch, cw), (sh, sw) = crop_size, stride
    h, w = inputs.shape[2:]
    total = None
    for y in window_starts(h, ch, sh):
        for x in window_starts(w, cw, sw):
            probs = _probs(encode_decode, inputs[:, :, y:y + ch, x:x + cw],
                           batch_img_metas)
            if total is None:
                total = probs.new_zeros(probs.shape[:2] + (h, w))
            total[:, :, y:y + ch, x:x + cw] += probs
    return total


def resize_probs(encode_decode: EncodeDecode, inputs: Tensor,
                 batch_img_metas: List[dict], resize_size: Sequence[int],
                 resize_align_corners: bool = True) -> Tensor:
    """Softmax of the prediction on the resized input, resized back."""
    size = tuple(int(s) for s in resize_size)
    resized = F.interpolate(inputs, size=size, mode='bilinear',
                            align_corners=resize_align_corners)
    probs = _probs(encode_decode, resized, batch_img_metas)
    return F.interpolate(probs, size=tuple(inputs.shape[2:]),
                         mode='bilinear', align_corners=resize_align_corners)


def prob_inference(encode_decode: EncodeDecode, inputs: Tensor,
                   batch_img_metas: List[dict],
                   test_cfg: ConfigDict) -> Tensor:
    """Probabilities of ``inputs`` by the mode of ``test_cfg``.

    Args:
        encode_decode (callable): ``(inputs, metas) -> logits`` at the input
            size (a segmentor's ``encode_decode``).
        inputs (Tensor): Normalised images (B, C, H, W).
        batch_img_metas (list[dict]): Their metas.
        test_cfg (ConfigDict): ``mode`` and its keys (module docstring).

    Returns:
        Tensor: Probabilities (B, num_classes, H, W).
    """
    mode = test_cfg.get('mode', 'whole')
    flips = tuple(test_cfg.get('flip_directions') or ())
    if flips and mode != 'whole':
        raise ValueError(f"test_cfg: flip_directions needs mode='whole', got "
                         f"mode='{mode}'")
    if mode == 'resize':
        if 'resize_size' not in test_cfg:
            raise KeyError("test_cfg mode 'resize' needs resize_size, e.g. "
                           '(512, 512)')
        return resize_probs(encode_decode, inputs, batch_img_metas,
                            test_cfg['resize_size'],
                            test_cfg.get('resize_align_corners', True))
    if mode == 'slide_prob_sum':
        return slide_prob_sum(encode_decode, inputs, batch_img_metas,
                              test_cfg['crop_size'], test_cfg['stride'])
    return flip_probs(encode_decode, inputs, batch_img_metas, flips)
