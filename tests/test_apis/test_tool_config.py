"""load_tool_config: the start shared by demo/image_demo.py and
tools/infer_scene.py."""
import pytest
from mmengine.registry import DefaultScope

from s5_mm.apis.tool_config import load_tool_config

TASKS = {'mmseg': 128, 'mmrotate': 200}


def _config(tmp_path, text):
    path = tmp_path / 'cfg.py'
    path.write_text(text)
    return str(path)


def test_scope_entered_and_config_loaded(tmp_path):
    cfg_path = _config(tmp_path, "default_scope = 'mmrotate'\nx = 3\n")
    ckpt = tmp_path / 'a.pth'
    ckpt.write_bytes(b'')
    cfg, scope = load_tool_config(
        cfg_path, TASKS, 'demo', dict(config=cfg_path, checkpoint=str(ckpt)))
    assert scope == 'mmrotate'
    assert cfg.x == 3
    assert DefaultScope.get_current_instance().scope_name == 'mmrotate'


def test_no_scope_means_mmseg(tmp_path):
    cfg_path = _config(tmp_path, 'x = 1\n')
    cfg, scope = load_tool_config(cfg_path, TASKS, 'demo', {})
    assert scope == 'mmseg'
    assert DefaultScope.get_current_instance().scope_name == 'mmseg'


def test_missing_input_named_in_order(tmp_path):
    cfg_path = _config(tmp_path, 'x = 1\n')
    missing = str(tmp_path / 'none.png')
    with pytest.raises(FileNotFoundError,
                       match=f'image file not found: {missing}'):
        load_tool_config(cfg_path, TASKS, 'demo',
                         dict(image=missing, config=cfg_path,
                              checkpoint=str(tmp_path / 'no')))
    # the first missing one in the given order is the one named
    with pytest.raises(FileNotFoundError, match='checkpoint file not found'):
        load_tool_config(cfg_path, TASKS, 'demo',
                         dict(config=cfg_path,
                              checkpoint=str(tmp_path / 'no')))


def test_unknown_scope_names_config_tool_and_known(tmp_path):
    cfg_path = _config(tmp_path, "default_scope = 'mmdet'\n")
    with pytest.raises(NotImplementedError) as err:
        load_tool_config(cfg_path, TASKS, 'scene inference', {})
    assert str(err.value) == (
        f"{cfg_path}: no scene inference for default_scope 'mmdet' "
        "(known: ['mmrotate', 'mmseg'])")
