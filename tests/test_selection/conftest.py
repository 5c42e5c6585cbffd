"""Shared fixtures: the shipped demo segmentor (tiny ViT + UperNet) with a
64-px test resize, a saved checkpoint of it, and its scoring pipeline."""
import pytest
import torch
from selection_utils import small_cfg


@pytest.fixture(scope='session')
def cfg():
    return small_cfg()


@pytest.fixture(scope='session')
def model(cfg):
    from mmseg.apis import init_model
    torch.manual_seed(0)
    return init_model(cfg, None, device='cpu').eval()


@pytest.fixture(scope='session')
def pipeline(cfg):
    from s5_mm.selection import build_scoring_pipeline
    return build_scoring_pipeline(cfg)


@pytest.fixture(scope='session')
def checkpoint(model, tmp_path_factory):
    """The fixture model saved like a training run saves it."""
    from mmengine.runner import save_checkpoint
    path = str(tmp_path_factory.mktemp('ckpt') / 'demo.pth')
    save_checkpoint(
        dict(state_dict=model.state_dict(),
             meta=dict(dataset_meta=dict(classes=[str(i) for i in range(7)]))),
        path)
    return path
