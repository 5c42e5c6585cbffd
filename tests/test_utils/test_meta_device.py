"""s5_mm.utils.meta_device.MetaTensors: parameters on the meta device,
shapes and counts as on the CPU, no memory."""
import pytest
import torch
import torch.nn as nn
from mmcv.cnn.bricks.drop import DropPath
from mmseg.models.backbones import VisionTransformer

from s5_mm.utils.meta_device import MetaTensors

VIT = dict(img_size=(32, 32), patch_size=8, embed_dims=64, num_layers=2,
           num_heads=4, drop_path_rate=0.1)


def test_constructors_make_meta_tensors_except_linspace():
    with MetaTensors():
        lin = nn.Linear(4, 3)
        zeros = torch.zeros(2, 5)
        cpu = torch.ones(2, device='cpu')  # an explicit device is kept
        steps = torch.linspace(0, 1, 5)
    assert lin.weight.device.type == 'meta' and lin.weight.shape == (3, 4)
    assert zeros.device.type == 'meta' and zeros.shape == (2, 5)
    assert cpu.device.type == 'cpu' and cpu.tolist() == [1.0, 1.0]
    assert steps.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert torch.zeros(1).device.type == 'cpu'  # only inside the block


def test_vit_on_meta_has_the_cpu_shapes():
    """mmseg's ViT takes ``.item()`` of its drop-path linspace: it builds,
    and every parameter has the shape of a CPU build's."""
    torch.manual_seed(0)
    ref = VisionTransformer(**VIT)
    with MetaTensors():
        meta = VisionTransformer(**VIT)
    shapes = {k: tuple(v.shape) for k, v in ref.state_dict().items()}
    assert {k: tuple(v.shape) for k, v in meta.state_dict().items()} == shapes
    assert all(p.device.type == 'meta' for p in meta.parameters())
    assert sum(p.numel() for p in meta.parameters()) == sum(
        p.numel() for p in ref.parameters())
    # the drop-path schedule over 2 layers, linspace(0, 0.1, 2): the first
    # layer's rate 0 is no DropPath, the second's is 0.1, as on the CPU
    rates = [m.drop_prob for m in meta.modules() if isinstance(m, DropPath)]
    assert rates == pytest.approx([0.1])
    assert rates == [m.drop_prob for m in ref.modules()
                     if isinstance(m, DropPath)]
