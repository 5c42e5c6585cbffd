"""Fixtures of the S4P tests."""
import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope
from s4p_utils import DEMO_CFG


@pytest.fixture
def demo_cfg() -> Config:
    """The shipped S4P demo config (tiny ViT + UperNet, 64 px crops)."""
    init_default_scope('mmseg')
    return Config.fromfile(DEMO_CFG)
