"""Config preparation shared by ``tools/train.py`` and ``tools/test.py``."""
from mmengine.config import Config

# the default hooks mmengine itself knows (and lets a config set to None)
_MMENGINE_DEFAULT_HOOKS = ('runtime_info', 'timer', 'sampler_seed', 'logger',
                           'param_scheduler', 'checkpoint')


def prepare_tool_cfg(cfg: Config,
                     allow_partial_load: bool = False) -> None:
    """Apply the tools' runtime defaults to ``cfg`` in place.

    * ``default_hooks.strict_load`` (:class:`~s5_mm.engine.hooks.StrictLoadHook`)
      and ``default_hooks.rng_state`` (:class:`~s5_mm.engine.hooks.RNGStateHook`)
      are added unless the config sets them, so with any config
      ``load_from``, ``--resume`` and test checkpoints load strictly and a
      resumed run continues exactly;
    * ``allow_partial_load = True`` when asked (``--allow-partial-load``);
    * a default hook set to None (``--cfg-options
      default_hooks.rng_state=None``) is removed: mmengine accepts None only
      for its own default hooks.

    Args:
        cfg (Config): The run's config.
        allow_partial_load (bool): Set ``cfg.allow_partial_load = True``.
    """
    if cfg.get('default_hooks') is None:
        cfg.default_hooks = dict()
    hooks = cfg.default_hooks
    hooks.setdefault('strict_load', dict(type='StrictLoadHook'))
    hooks.setdefault('rng_state', dict(type='RNGStateHook'))
    for name in [n for n, h in hooks.items()
                 if h is None and n not in _MMENGINE_DEFAULT_HOOKS]:
        hooks.pop(name)
    if allow_partial_load:
        cfg.allow_partial_load = True
