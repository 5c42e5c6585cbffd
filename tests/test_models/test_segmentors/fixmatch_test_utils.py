"""The S4P demo's FixMatchSegmentor and batches, for the segmentor tests."""
import copy

from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmseg.registry import MODELS

import s5_mm  # noqa: F401

DEMO_CFG = ('configs/demo/s4p-fixmatch_vit-tiny_1xb2+2-60iter_'
            'loveda-sample-unlabeled-64x64.py')


def demo_config(second_strong_view: bool = False) -> Config:
    """The shipped S4P demo config; optionally with UniMatch V2's second
    strong view ``unsup_student2`` in the unlabeled pipeline."""
    init_default_scope('mmseg')
    cfg = Config.fromfile(DEMO_CFG)
    if second_strong_view:
        branch_field = cfg.branch_field + ['unsup_student2']
        labeled, unlabeled = cfg.train_dataloader.dataset.datasets
        labeled.pipeline[-1].branch_field = branch_field
        unlabeled.pipeline[-1].branch_field = branch_field
        unlabeled.pipeline[-1].unsup_student2 = copy.deepcopy(
            cfg.strong_pipeline)
    return cfg


def build_fixmatch(cfg: Config, **semi_train_cfg):
    """The demo's model with head dropout off (deterministic)."""
    init_default_scope('mmseg')
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.segmentor.decode_head.dropout_ratio = 0.0
    model_cfg.semi_train_cfg.update(semi_train_cfg)
    return MODELS.build(model_cfg)


def demo_batches(cfg: Config, num: int = 1) -> list:
    """``num`` collated raw training batches of the demo's dataloader."""
    init_default_scope('mmseg')
    loader = Runner.build_dataloader(
        copy.deepcopy(cfg.train_dataloader), seed=0)
    it = iter(loader)
    return [next(it) for _ in range(num)]
