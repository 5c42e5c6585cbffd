"""EMATeacherHook: UniMatch V2's momentum schedule applied to the teacher of
the S4P demo's FixMatchSegmentor, and the error for a model without one."""
import copy
from types import SimpleNamespace

import pytest
import torch
from mmengine.registry import init_default_scope
from mmseg.registry import HOOKS

from s5_mm.engine.hooks import EMATeacherHook

from s4p_utils import build_model


def test_ema_hook_formula(demo_cfg):
    init_default_scope('mmseg')
    model = build_model(demo_cfg, teacher='ema')
    hook = HOOKS.build(dict(type='EMATeacherHook', max_ratio=0.996))
    runner = SimpleNamespace(model=model, iter=0)
    torch.manual_seed(0)

    def perturb_student():
        with torch.no_grad():
            for p in model.student.parameters():
                p.add_(torch.randn_like(p))

    for it, ratio in [(0, 0.0), (9, 0.9), (10_000, 0.996)]:
        perturb_student()
        t_old = copy.deepcopy(model.teacher.state_dict())
        s = model.student.state_dict()
        runner.iter = it
        hook.after_train_iter(runner, batch_idx=it)
        for k, v in model.teacher.state_dict().items():
            if v.dtype.is_floating_point:  # params and BN statistics
                expected = ratio * t_old[k] + (1 - ratio) * s[k]
                assert torch.allclose(v, expected, atol=1e-6), (it, k)
    assert hook.momentum_at(0) == 1.0
    assert hook.momentum_at(9) == pytest.approx(0.1)
    assert hook.momentum_at(10_000) == pytest.approx(0.004)


def test_before_train_copies_the_student(demo_cfg):
    model = build_model(demo_cfg, teacher='ema')
    with torch.no_grad():
        for p in model.student.parameters():
            p.add_(1.0)
    EMATeacherHook().before_train(SimpleNamespace(model=model, iter=0))
    for k, v in model.teacher.state_dict().items():
        assert torch.equal(v, model.student.state_dict()[k]), k


def test_model_without_teacher_is_named(demo_cfg):
    model = build_model(demo_cfg, teacher='self')
    with pytest.raises(ValueError, match="FixMatchSegmentor has none: set "
                       r"model.semi_train_cfg.teacher='ema'"):
        EMATeacherHook().before_train(SimpleNamespace(model=model, iter=0))
    with pytest.raises(ValueError, match='max_ratio'):
        EMATeacherHook(max_ratio=1.0)
