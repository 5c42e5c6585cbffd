"""The start shared by the tools that run a trained model on a user's files
(``demo/image_demo.py``, ``tools/infer_scene.py``): every input file must
exist, and the config's ``default_scope`` (``mmseg`` or ``mmrotate``) picks
the task and is entered before anything is built."""
import os.path as osp
from typing import Collection, Mapping, Tuple

from mmengine.config import Config
from mmengine.registry import init_default_scope


def load_tool_config(config: str, tasks: Collection[str], tool: str,
                     inputs: Mapping[str, str]) -> Tuple[Config, str]:
    """Check the input files, load ``config`` and enter its registry scope.

    Args:
        config: path of the config file.
        tasks: the ``default_scope`` values the tool handles.
        tool: what the tool does, for the error message (e.g. ``'demo'``).
        inputs: what each input file is (``image``, ``config``,
            ``checkpoint``, ...) -> its path; checked in this order.

    Returns:
        tuple: the loaded config and its scope (``'mmseg'`` when the config
        sets none).

    Raises:
        FileNotFoundError: an input file does not exist (named with what it
            is).
        NotImplementedError: the config's scope is not one of ``tasks``.
    """
    for what, path in inputs.items():
        if not osp.isfile(path):
            raise FileNotFoundError(f'{what} file not found: {path}')
    cfg = Config.fromfile(config)
    scope = cfg.get('default_scope', 'mmseg')
    if scope not in tasks:
        raise NotImplementedError(
            f"{config}: no {tool} for default_scope '{scope}' (known: "
            f'{sorted(tasks)})')
    init_default_scope(scope)
    return cfg, scope
