"""The configs/s5_released/ segmentation configs shrunk for the CPU, and
the authors' MoE-MDF checkpoint (tests/utils/s5_reference_seg.py) converted
into them: shared by the converter, test-mode and tools/test.py tests."""
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS
from s5_reference_seg import authors_state

DIMS, DEPTH, HEADS, PATCH, GRID, CH, P = 64, 4, 4, 16, 4, 16, 16
IMG = GRID * PATCH
OUT = (0, 1, 2, 3)
MDF_CLASSES = (5, 5, 9, 7)  # their rsseg.yaml nclass, in MDF_HEADS order
RELEASED = 'configs/s5_released/'
MDF_CFG = RELEASED + 's5-released_moe-mdf_vit-b_upernet_rsseg4-512x512.py'
S4P_CFG = RELEASED + 's5-released_s4p_vit-b_upernet_isaid-512x512.py'


def tiny(path: str) -> Config:
    """The shipped config, shrunk (64 dims, 4 layers, 64 px, 16-channel
    heads, BN instead of SyncBN for the CPU)."""
    cfg = Config.fromfile(path)
    model = cfg.model
    model.backbone.update(img_size=(IMG, IMG), embed_dims=DIMS,
                          num_layers=DEPTH, num_heads=HEADS, out_indices=OUT,
                          drop_path_rate=0.0, with_cp=False)
    if model.backbone.type == 'MoEViT':
        model.backbone.expert_channels = P
    model.neck.embed_dim = DIMS
    heads = model.decode_heads.values() if model.get('decode_heads') else [
        model.decode_head]
    for head in heads:
        head.update(in_channels=[DIMS] * 4, channels=CH,
                    norm_cfg=dict(type='BN', requires_grad=True))
    return cfg


def build(cfg: Config):
    init_default_scope('mmseg')
    model = MODELS.build(cfg.model)
    return model.eval()


def mdf_state(seed: int = 1) -> dict:
    """The authors' MoE-MDF state dict (4 experts, their heads), random."""
    return authors_state('seg-moe-mdf', DIMS, DEPTH, PATCH, GRID, CH,
                         MDF_CLASSES, experts=4, p=P, seed=seed)


def converted_mdf(cfg: Config, state: dict) -> dict:
    """``state`` converted as tools/model_converters/s5_to_s5mm.py does."""
    from s5_mm.converters.s5_seg import convert_seg
    out, _ = convert_seg({'module.' + k: v for k, v in state.items()},
                         'seg-moe-mdf')
    model = build(cfg)
    model.load_state_dict(out, strict=True)
    return out


def released_mdf_model(cfg: Config, state: dict) -> torch.nn.Module:
    """The tiny released model with ``state`` converted and loaded."""
    model = build(cfg)
    model.load_state_dict(converted_mdf(cfg, state), strict=True)
    return model
