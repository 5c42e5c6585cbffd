"""The S5 authors' segmentation models written out independently, to check
the converter: their checkpoint layout (key names and shapes, read off
MiliLab/S5 ``S4_Pretrain/model/semseg/upernet.py``,
``RS_Finetune/Semantic_Segmentation/model/semseg/upernet_mdf.py``,
``model/backbone/vit*.py`` and mmseg 1.x's ``UPerHead`` they build with
``num_classes=1``) and their forward pass as plain torch functions:

    e = encoder(x[, dataset])                      # ViT + fpn1..fpn4
    ss = semsegdecoder*.decode_head._forward_feature(e)   # UperNet
    out = semseghead*(ss)                          # Dropout2d + Conv2d 1x1
    out = F.interpolate(out, (h, w), mode='bilinear', align_corners=True)

Nothing here imports s5_mm.
"""
from collections import OrderedDict
from typing import Dict, Sequence, Tuple

import torch
import torch.nn.functional as F
from reference_vit import s5_vit, vit_shapes

StateDict = Dict[str, torch.Tensor]
POOL_SCALES = (1, 2, 3, 6)
#: their MDF heads: (task name, decoder attribute, classifier attribute)
MDF_HEADS = (('vaihingen', 'semsegdecoder', 'semseghead_vaihingen'),
             ('potsdam', 'semsegdecoder_potsdam', 'semseghead_potsdam'),
             ('openearthmap', 'semsegdecoder_OpenEarthMap',
              'semseghead_OpenEarthMap'),
             ('loveda', 'semsegdecoder_loveda', 'semseghead_loveda'))


def _conv_module(name: str, out_c: int, in_c: int, k: int) -> dict:
    """mmcv ConvModule with (Sync)BN: conv without bias + bn."""
    return {
        f'{name}.conv.weight': (out_c, in_c, k, k),
        f'{name}.bn.weight': (out_c, ),
        f'{name}.bn.bias': (out_c, ),
        f'{name}.bn.running_mean': (out_c, ),
        f'{name}.bn.running_var': (out_c, ),
        f'{name}.bn.num_batches_tracked': (),
    }


def uper_shapes(prefix: str, dims: int, channels: int) -> dict:
    """mmseg UPerHead(in_channels=[dims] * 4, channels, pool_scales
    (1, 2, 3, 6), num_classes=1) state dict shapes, under ``prefix``."""
    shapes = {}
    for j in range(len(POOL_SCALES)):
        shapes.update(_conv_module(f'psp_modules.{j}.1', channels, dims, 1))
    shapes.update(_conv_module('bottleneck', channels,
                               dims + len(POOL_SCALES) * channels, 3))
    for i in range(3):
        shapes.update(_conv_module(f'lateral_convs.{i}', channels, dims, 1))
    for i in range(3):
        shapes.update(_conv_module(f'fpn_convs.{i}', channels, channels, 3))
    shapes.update(_conv_module('fpn_bottleneck', channels, 4 * channels, 3))
    shapes['conv_seg.weight'] = (1, channels, 1, 1)  # their placeholder
    shapes['conv_seg.bias'] = (1, )
    return {prefix + k: v for k, v in shapes.items()}


def random_values(shapes: Dict[str, tuple], seed: int = 0) -> StateDict:
    """Random tensors: weights ~ 1/sqrt(fan in), norms around 1, BN
    statistics non-trivial, ``num_batches_tracked`` an int64 scalar."""
    gen = torch.Generator().manual_seed(seed)
    out = OrderedDict()
    for key, shape in shapes.items():
        if key.endswith('num_batches_tracked'):
            out[key] = torch.tensor(7, dtype=torch.long)
            continue
        value = torch.randn(*shape, generator=gen)
        if key.endswith('running_var'):
            value = 0.5 + torch.rand(*shape, generator=gen)
        elif key.endswith('running_mean'):
            value = 0.1 * value
        elif ('.bn.' in key or '.ln' in key or 'ln1' in key
              or 'ln2' in key) and key.endswith('weight'):
            value = 1.0 + 0.1 * value
        elif len(shape) >= 2:
            fan_in = 1
            for s in shape[1:]:
                fan_in *= s
            value = value * fan_in**-0.5
        else:
            value = 0.05 * value
        out[key] = value
    return out


def authors_state(kind: str, dims: int, depth: int, patch: int, grid: int,
                  channels: int, num_classes: Sequence[int] = (16, ),
                  experts: int = 0, p: int = 0,
                  seed: int = 0) -> StateDict:
    """A state dict in the authors' layout, without the DDP prefix.

    Args:
        kind (str): 's4p-encoder', 's4p-upernet' or 'seg-moe-mdf'.
        num_classes (Sequence[int]): One class count per head (S4P: one;
            MDF: one per task of :data:`MDF_HEADS`, in that order).
    """
    shapes = {ENC + k: v for k, v in vit_shapes(
        's5', dims, depth, patch, grid, experts=experts, p=p).items()}
    if kind == 's4p-encoder':
        shapes = {k[len(ENC):]: v for k, v in shapes.items()}
    elif kind == 's4p-upernet':
        shapes.update(uper_shapes('semsegdecoder.decode_head.', dims,
                                  channels))
        shapes['semseghead.1.weight'] = (num_classes[0], channels, 1, 1)
        shapes['semseghead.1.bias'] = (num_classes[0], )
    else:
        for (_, decoder, head), ncls in zip(MDF_HEADS, num_classes):
            shapes.update(uper_shapes(f'{decoder}.decode_head.', dims,
                                      channels))
            shapes[f'{head}.1.weight'] = (ncls, channels, 1, 1)
            shapes[f'{head}.1.bias'] = (ncls, )
    return random_values(shapes, seed)


ENC = 'encoder.'


def _cbr(sd: StateDict, name: str, x: torch.Tensor) -> torch.Tensor:
    """ConvModule: conv (no bias, 'same' padding) -> BN (eval) -> ReLU."""
    w = sd[f'{name}.conv.weight']
    x = F.conv2d(x, w, padding=w.shape[-1] // 2)
    x = F.batch_norm(x, sd[f'{name}.bn.running_mean'],
                     sd[f'{name}.bn.running_var'], sd[f'{name}.bn.weight'],
                     sd[f'{name}.bn.bias'], training=False, eps=1e-5)
    return F.relu(x)


def _up(x: torch.Tensor, size) -> torch.Tensor:
    # inside their UperNet: align_corners=False
    return F.interpolate(x, size=size, mode='bilinear', align_corners=False)


def uper_feature(sd: StateDict, feats: Sequence[torch.Tensor]) -> torch.Tensor:
    """mmseg UPerHead._forward_feature (PPM on the last level, top-down
    FPN, fpn_bottleneck), reading keys without prefix."""
    last = feats[-1]
    ppm = [last] + [
        _up(_cbr(sd, f'psp_modules.{j}.1', F.adaptive_avg_pool2d(last, s)),
            last.shape[2:]) for j, s in enumerate(POOL_SCALES)
    ]
    laterals = [_cbr(sd, f'lateral_convs.{i}', feats[i]) for i in range(3)]
    laterals.append(_cbr(sd, 'bottleneck', torch.cat(ppm, dim=1)))
    for i in range(3, 0, -1):
        laterals[i - 1] = laterals[i - 1] + _up(laterals[i],
                                                laterals[i - 1].shape[2:])
    outs = [_cbr(sd, f'fpn_convs.{i}', laterals[i]) for i in range(3)]
    outs.append(laterals[3])
    outs = [outs[0]] + [_up(o, outs[0].shape[2:]) for o in outs[1:]]
    return _cbr(sd, 'fpn_bottleneck', torch.cat(outs, dim=1))


def _sub(sd: StateDict, prefix: str) -> StateDict:
    return {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}


def authors_forward(sd: StateDict, img: torch.Tensor, heads: int,
                    patch: int, out_indices: Sequence[int],
                    head: Tuple[int, str, str] = (0, 'semsegdecoder',
                                                  'semseghead')
                    ) -> torch.Tensor:
    """Their UperNet forward (eval mode) for one task.

    Args:
        sd (dict): Their state dict (no DDP prefix).
        head (tuple): (expert id, decoder attribute, classifier attribute).
    """
    task, decoder, classifier = head
    feats = s5_vit(_sub(sd, ENC), img, heads, patch, task, out_indices)
    ss = uper_feature(_sub(sd, f'{decoder}.decode_head.'), feats)
    out = F.conv2d(ss, sd[f'{classifier}.1.weight'],
                   sd[f'{classifier}.1.bias'])
    return F.interpolate(out, size=img.shape[-2:], mode='bilinear',
                         align_corners=True)


def authors_eval_probs(model, x: torch.Tensor, mode: str, crop_size: int = 512,
                       step: int = 256) -> torch.Tensor:
    """Their evaluation forward (``evaluate.py: evaluate`` with
    ``util/test_utils.py: net_process``), written out: the class
    probabilities whose argmax is their prediction.

    Args:
        model (callable): ``x -> logits`` at the input size (their
            ``model(x, dataset)``).
        x (Tensor): Normalised image batch (B, 3, H, W).
        mode (str): 'original' (image, h-flip, v-flip; mean softmax),
            'resize' (to ``crop_size`` and back, align_corners=True) or
            'slide_window' (``crop_size`` windows, ``step``; softmax summed).
    """
    def net_process(image, flip):
        inputs = [image]
        if flip:
            inputs += [image.flip(3), image.flip(2)]
        out = F.softmax(model(torch.cat(inputs, dim=0)), dim=1)
        n = image.shape[0]
        preds = [out[:n]]
        if flip:
            preds += [out[n:2 * n].flip(3), out[2 * n:].flip(2)]
        return torch.stack(preds, dim=0).mean(0)

    if mode == 'original':
        return net_process(x, True)
    if mode == 'resize':
        shape = x.shape[-2:]
        small = F.interpolate(x, size=crop_size, mode='bilinear',
                              align_corners=True)
        return F.interpolate(net_process(small, False), size=shape,
                             mode='bilinear', align_corners=True)
    assert mode == 'slide_window'
    _, _, h, w = x.shape
    final = None
    a = 0
    while a <= int(h / step):
        b = 0
        while b <= int(w / step):
            ys = slice(min(a * step, h - crop_size),
                       min(a * step + crop_size, h))
            xs = slice(min(b * step, w - crop_size),
                       min(b * step + crop_size, w))
            pre = net_process(x[:, :, ys, xs], False)
            if final is None:
                final = x.new_zeros(x.shape[0], pre.shape[1], h, w)
            final[:, :, ys, xs] += pre
            b += 1
        a += 1
    return final
