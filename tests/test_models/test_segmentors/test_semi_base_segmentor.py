"""SemiBaseSegmentor: the teacher mode, train / eval, predict / tensor on the
chosen network, plain-checkpoint loading, the branch check and the logits of
student and teacher (on the S4P demo's tiny segmentor)."""
import copy

import pytest
import torch
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint
from mmseg.registry import MODELS

from s5_mm.models.segmentors import FixMatchSegmentor, SemiBaseSegmentor

from s4p_utils import build_model, real_batches


def _base(cfg, **kwargs):
    init_default_scope('mmseg')
    return SemiBaseSegmentor(
        segmentor=copy.deepcopy(cfg.model.segmentor),
        data_preprocessor=copy.deepcopy(cfg.model.data_preprocessor),
        **kwargs)


def test_teacher_mode_and_frozen_teacher(demo_cfg):
    own = _base(demo_cfg)
    assert own.teacher_mode == 'self' and not hasattr(own, 'teacher')
    assert not any(k.startswith('teacher.') for k in own.state_dict())
    assert own.semi_test_cfg == dict(predict_on='student')
    ema = _base(demo_cfg, semi_train_cfg=dict(teacher='ema'))
    assert ema.teacher_mode == 'ema'
    assert ema.semi_test_cfg == dict(predict_on='teacher')
    assert not any(p.requires_grad for p in ema.teacher.parameters())
    assert all(p.requires_grad for p in ema.student.parameters())
    ema.train()
    assert ema.student.training and not ema.teacher.training
    ema.eval()
    assert not ema.student.training and not ema.teacher.training
    assert isinstance(build_model(demo_cfg), SemiBaseSegmentor)
    assert issubclass(FixMatchSegmentor, SemiBaseSegmentor)


def test_config_errors(demo_cfg):
    with pytest.raises(ValueError, match="'self' or 'ema'"):
        build_model(demo_cfg, teacher='mean')
    with pytest.raises(ValueError, match="needs semi_train_cfg.teacher='ema'"):
        _base(demo_cfg, semi_test_cfg=dict(predict_on='teacher'))
    with pytest.raises(ValueError, match="'student' or 'teacher'"):
        _base(demo_cfg, semi_test_cfg=dict(predict_on='ema'))
    with pytest.raises(KeyError, match=r"SemiBaseSegmentor: unknown .*"
                       r"\['conf_thr'\]; valid keys: \['teacher'\]"):
        _base(demo_cfg, semi_train_cfg=dict(conf_thr=0.9))
    with pytest.raises(NotImplementedError, match='loss'):
        _base(demo_cfg).loss({}, {})


def test_predict_and_tensor_on_the_chosen_network(demo_cfg):
    torch.manual_seed(0)
    model = _base(demo_cfg, semi_train_cfg=dict(teacher='ema'))
    with torch.no_grad():  # the teacher now differs from the student
        for p in model.teacher.parameters():
            p.mul_(1.5)
    model.eval()
    batch = real_batches(demo_cfg)[0]
    data = model.data_preprocessor(batch, True)
    x, samples = data['inputs']['sup'], data['data_samples']['sup']
    with torch.no_grad():
        for net in ('teacher', 'student'):
            # as mmdet's TeacherStudentValLoop switches it
            model.semi_test_cfg['predict_on'] = net
            want = getattr(model, net).predict(x, copy.deepcopy(samples))
            got = model(x, copy.deepcopy(samples), mode='predict')
            for g, w in zip(got, want):
                assert torch.equal(g.seg_logits.data, w.seg_logits.data)
            assert torch.equal(model(x, mode='tensor'),
                               getattr(model, net)(x, mode='tensor'))
            assert torch.equal(model.extract_feat(x)[0],
                               getattr(model, net).extract_feat(x)[0])
        assert not torch.equal(model.teacher(x, mode='tensor'),
                               model.student(x, mode='tensor'))
    with pytest.raises(RuntimeError, match='Invalid mode'):
        model(x, mode='features')


def test_loads_plain_checkpoint_into_student_and_teacher(demo_cfg, tmp_path):
    init_default_scope('mmseg')
    plain = MODELS.build(demo_cfg.model.segmentor)
    ckpt = tmp_path / 'plain.pth'
    torch.save(dict(state_dict=plain.state_dict()), ckpt)
    for teacher in ('self', 'ema'):
        model = build_model(demo_cfg, teacher=teacher)
        load_checkpoint(model, str(ckpt), map_location='cpu', strict=True)
        nets = [model.student] + ([model.teacher] if teacher == 'ema' else [])
        for net in nets:
            for k, v in net.state_dict().items():
                assert torch.equal(v, plain.state_dict()[k]), k


def test_student_and_teacher_logits(demo_cfg):
    model = build_model(demo_cfg, teacher='ema')
    calls = []
    model.teacher.backbone.register_forward_pre_hook(
        lambda *a: calls.append('teacher'))
    model.student.backbone.register_forward_pre_hook(
        lambda *a: calls.append('student'))
    x = torch.randn(2, 3, 64, 64)
    model.student_logits(x)
    assert calls == ['student']
    calls.clear()
    model.teacher_logits(x)
    assert calls == ['teacher']
    # the 'self' teacher is the student in eval mode, back in train mode
    own = build_model(demo_cfg)
    own.train()
    with torch.no_grad():
        got = own.teacher_logits(x)
        assert own.student.training
        own.student.eval()
        want = own.student(x, mode='tensor')  # mmseg's own forward
    assert got.shape == (2, 7, 64, 64)
    assert torch.allclose(got, torch.nn.functional.interpolate(
        want, size=(64, 64), mode='bilinear', align_corners=False),
        atol=1e-6)


def test_branch_check(demo_cfg):
    model = _base(demo_cfg)
    model.check_branches(dict(sup=1, unsup_teacher=2), ['sup'])
    with pytest.raises(KeyError, match=r"branches \['sup'\] but needs "
                       r"\['unsup_teacher'\].*MultiBranch.*see here"):
        model.check_branches(dict(sup=1), ['sup', 'unsup_teacher'],
                             ' (see here)')
