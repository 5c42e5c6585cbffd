"""Converters check their output against the target model: s5_to_s5mm
--check-config stops (and writes nothing) when the converted weights do not
fit the config's model exactly."""

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from script_runner import run_script

SEG_DEMO = 'configs/demo/upernet_vit-tiny_1xb4-60iter_loveda-sample-64x64.py'


def _authors_backbone(path, dims):
    """An S5-layout backbone checkpoint (pos_embed without a cls slot) of the
    demo ViT with ``dims`` channels."""
    import s5_mm  # noqa: F401
    from mmseg.registry import MODELS
    init_default_scope('mmseg')
    cfg = Config.fromfile(SEG_DEMO).model.backbone
    cfg.embed_dims = dims
    state = MODELS.build(cfg).state_dict()
    state['pos_embed'] = state['pos_embed'][:, 1:]
    torch.save({'model': state}, path)


@pytest.mark.parametrize('dims', [64, 96])
def test_s5_to_s5mm_check_config(tmp_path, dims):
    src, dst = tmp_path / 'authors.pth', tmp_path / 'out.pth'
    _authors_backbone(src, dims)
    proc = run_script(
        ['tools/model_converters/s5_to_s5mm.py', str(src),
         str(dst), '--backbone-only', '--check-config', SEG_DEMO],
        timeout=300)
    out = proc.stdout + proc.stderr
    if dims == 64:
        assert proc.returncode == 0, out[-3000:]
        assert 'fit VisionTransformer exactly' in out
        assert torch.load(dst, weights_only=True)['state_dict'][
            'pos_embed'].shape == (1, 65, 64)
    else:
        assert proc.returncode != 0 and not dst.exists()
        assert ('patch_embed.projection.weight: (96, 3, 8, 8) in the '
                'checkpoint, (64, 3, 8, 8) in the model') in out
