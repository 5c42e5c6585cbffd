"""s5_mm.utils.amp: AMP configs train in fp32 on a machine without GPU,
said in one warning line (tools/train.py calls it; the mim test runs
tools/train.py --amp)."""
import logging

import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.optim import OptimWrapper

from s5_mm.utils.amp import disable_amp_without_accelerator
from s5mm_tiny_configs import shipped


def test_amp_config_becomes_fp32_on_cpu():
    cfg = Config.fromfile(shipped(
        'moe-mdf-p256_vit-b_oriented-rcnn-le90_8xb2-12e_dior-r-dota2-'
        '1024x1024.py'))
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    if torch.cuda.is_available():  # a GPU: AMP stays
        assert disable_amp_without_accelerator(cfg) is False
        assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
        return
    cfg.optim_wrapper.loss_scale = 'dynamic'
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        assert disable_amp_without_accelerator(cfg) is True
        assert disable_amp_without_accelerator(cfg) is False  # now fp32
    finally:
        logger.removeHandler(handler)
    assert cfg.optim_wrapper.type == 'OptimWrapper'
    assert 'loss_scale' not in cfg.optim_wrapper
    assert cfg.optim_wrapper.clip_grad == dict(max_norm=35, norm_type=2)
    warnings = [r for r in records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and 'AMP is turned off' in \
        warnings[0].getMessage()
    # the wrapper config builds and steps on the CPU
    model = torch.nn.Linear(2, 1)
    kwargs = {k: v for k, v in cfg.optim_wrapper.items()
              if k not in ('type', 'optimizer', 'constructor',
                           'paramwise_cfg')}
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1),
                           **kwargs)
    before = model.weight.detach().clone()
    wrapper.update_params(model(torch.ones(1, 2)).sum())
    assert not torch.equal(before, model.weight)
