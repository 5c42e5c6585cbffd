"""Helpers of the S4P tests: the shipped demo config (tiny ViT + UperNet,
64 px crops) on the bundled LoveDA crops and unlabeled scenes."""
import copy

from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

import s5_mm  # noqa: F401

DEMO_CFG = ('configs/demo/s4p-fixmatch_vit-tiny_1xb2+2-60iter_'
            'loveda-sample-unlabeled-64x64.py')


def build_model(cfg: Config, **semi_train_cfg):
    """The demo's FixMatchSegmentor, head dropout off (deterministic)."""
    from mmseg.registry import MODELS
    init_default_scope('mmseg')
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.segmentor.decode_head.dropout_ratio = 0.0
    model_cfg.semi_train_cfg.update(semi_train_cfg)
    return MODELS.build(model_cfg)


def add_second_strong_view(cfg: Config) -> Config:
    """Give the demo's train pipelines an 'unsup_student2' branch."""
    branch_field = cfg.branch_field + ['unsup_student2']
    labeled, unlabeled = cfg.train_dataloader.dataset.datasets
    labeled.pipeline[-1].branch_field = branch_field
    unlabeled.pipeline[-1].branch_field = branch_field
    unlabeled.pipeline[-1].unsup_student2 = copy.deepcopy(cfg.strong_pipeline)
    return cfg


def real_batches(cfg: Config, num: int = 1):
    """``num`` collated training batches of the demo's dataloader."""
    init_default_scope('mmseg')
    loader = Runner.build_dataloader(
        copy.deepcopy(cfg.train_dataloader), seed=0)
    it = iter(loader)
    return [next(it) for _ in range(num)]
