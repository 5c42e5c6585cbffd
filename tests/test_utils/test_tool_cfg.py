"""s5_mm.utils.tool_cfg.prepare_tool_cfg: the runtime defaults that
tools/train.py and tools/test.py add to any config."""
from mmengine.config import Config

from s5_mm.utils.tool_cfg import prepare_tool_cfg

STRICT = dict(type='StrictLoadHook')
RNG = dict(type='RNGStateHook')


def test_hooks_added_to_a_config_without_default_hooks():
    cfg = Config(dict(model=dict(type='M')))
    prepare_tool_cfg(cfg)
    assert cfg.default_hooks == dict(strict_load=STRICT, rng_state=RNG)
    assert 'allow_partial_load' not in cfg
    cfg = Config(dict(default_hooks=None))
    prepare_tool_cfg(cfg, allow_partial_load=True)
    assert cfg.default_hooks == dict(strict_load=STRICT, rng_state=RNG)
    assert cfg.allow_partial_load is True


def test_config_settings_win_and_none_removes_our_hooks():
    own = dict(type='StrictLoadHook', allow_partial=True)
    cfg = Config(dict(default_hooks=dict(
        strict_load=own, rng_state=None, visualization=None, timer=None,
        logger=dict(type='LoggerHook', interval=5))))
    prepare_tool_cfg(cfg)
    # None removes a hook mmengine does not know; its own keep their None
    assert cfg.default_hooks == dict(
        strict_load=own, timer=None,
        logger=dict(type='LoggerHook', interval=5))
    assert cfg.default_hooks['timer'] is None
