"""Base of the semi-supervised segmentors, after mmdet's ``SemiBaseDetector``:
a student and, optionally, an EMA teacher built from one segmentor config."""
import copy
from typing import Callable, Dict, List, Optional, Sequence, Union

import torch.nn as nn
from mmengine.model import BaseModel
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.utils import (ConfigType, OptConfigType, OptMultiConfig,
                         OptSampleList, SampleList)
from torch import Tensor

#: the teacher modes of ``semi_train_cfg.teacher``
TEACHER_MODES = ('self', 'ema')


def decode_logits(model: nn.Module,
                  inputs: Tensor,
                  feat_fn: Optional[Callable] = None) -> Tensor:
    """Decode-head logits of an mmseg ``EncoderDecoder``, resized to the input.

    Args:
        model (nn.Module): An mmseg ``EncoderDecoder``, in whatever mode it
            is in.
        inputs (Tensor): (B, 3, H, W) preprocessed images.
        feat_fn (Callable, optional): Applied to the list of backbone
            features before the neck (a feature perturbation).

    Returns:
        Tensor: (B, num_classes, H, W) logits.
    """
    if feat_fn is None:
        feats = model.extract_feat(inputs)
    else:
        feats = feat_fn(model.backbone(inputs))
        if model.with_neck:
            feats = model.neck(feats)
    logits = model.decode_head.forward(feats)
    return resize(logits, size=inputs.shape[2:], mode='bilinear',
                  align_corners=model.align_corners)


class SemiBaseSegmentor(BaseModel):
    """Student / teacher plumbing of a semi-supervised segmentor.

    Mirrors mmdet's ``SemiBaseDetector``: one segmentor config builds the
    student and, with ``semi_train_cfg.teacher='ema'``, a frozen teacher of
    the same architecture (updated by ``EMATeacherHook`` / mmdet's
    ``MeanTeacherHook``); with ``'self'`` the student itself, switched to
    eval mode, is the teacher and no second network exists. The mode is
    :attr:`teacher_mode`. Inputs are branches of mmdet's ``MultiBranch``
    (:meth:`check_branches`); a plain segmentor checkpoint loads into the
    student and the teacher. Subclasses implement :meth:`loss` and list
    their ``semi_train_cfg`` keys with defaults in ``default_train_cfg``.

    Args:
        segmentor (dict): Config of an mmseg ``EncoderDecoder``.
        semi_train_cfg (dict, optional): Training options: ``teacher``
            (``'self'`` or ``'ema'``) and the subclass's keys.
        semi_test_cfg (dict, optional): ``predict_on``: ``'student'`` or
            ``'teacher'`` (the default with an EMA teacher). mmdet's
            ``TeacherStudentValLoop`` switches it while validating.
        data_preprocessor (dict, optional): Usually mmdet's
            ``MultiBranchDataPreprocessor`` around ``SegDataPreProcessor``.
        init_cfg (dict, optional): Initialization config.
    """

    #: the ``semi_train_cfg`` keys and their defaults (read-only)
    default_train_cfg: Dict = dict(teacher='self')
    #: keys that were removed, with what to do instead (read-only)
    removed_train_cfg_keys: Dict[str, str] = dict()

    def __init__(self,
                 segmentor: ConfigType,
                 semi_train_cfg: OptConfigType = None,
                 semi_test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.semi_train_cfg = self._merge_train_cfg(semi_train_cfg)
        name = type(self).__name__
        self.teacher_mode: str = self.semi_train_cfg['teacher']
        if self.teacher_mode not in TEACHER_MODES:
            raise ValueError(f'{name}: semi_train_cfg.teacher must be '
                             f"'self' or 'ema', got {self.teacher_mode!r}")
        ema = self.teacher_mode == 'ema'
        self.semi_test_cfg = dict(predict_on='teacher' if ema else 'student')
        self.semi_test_cfg.update(semi_test_cfg or {})
        if self.semi_test_cfg['predict_on'] not in ('student', 'teacher'):
            raise ValueError(f"{name}: semi_test_cfg.predict_on must be "
                             "'student' or 'teacher', got "
                             f"{self.semi_test_cfg['predict_on']!r}")
        if self.semi_test_cfg['predict_on'] == 'teacher' and not ema:
            raise ValueError(f"{name}: semi_test_cfg.predict_on='teacher' "
                             "needs semi_train_cfg.teacher='ema'")
        self.student = MODELS.build(segmentor)
        if ema:
            self.teacher = MODELS.build(copy.deepcopy(segmentor))
            self.freeze(self.teacher)

    def _merge_train_cfg(self, cfg: OptConfigType) -> dict:
        """``default_train_cfg`` updated with ``cfg``; unknown keys raise."""
        merged = dict(self.default_train_cfg)
        unknown = sorted(set(cfg or {}) - set(merged))
        if unknown:
            hints = ''.join(f' ({k}, {self.removed_train_cfg_keys[k]})'
                            for k in unknown
                            if k in self.removed_train_cfg_keys)
            raise KeyError(f'{type(self).__name__}: unknown semi_train_cfg '
                           f'keys {unknown}; valid keys: {sorted(merged)}'
                           + hints)
        merged.update(cfg or {})
        return merged

    @staticmethod
    def freeze(model: nn.Module) -> None:
        """Eval mode and no gradient, as mmdet freezes its teacher."""
        model.eval()
        model.requires_grad_(False)

    # ------------------------------------------------------------------ modes
    def train(self, mode: bool = True) -> 'SemiBaseSegmentor':
        """Set the train mode; an EMA teacher always stays in eval mode."""
        super().train(mode)
        if self.teacher_mode == 'ema':
            self.teacher.eval()
        return self

    @property
    def predictor(self) -> nn.Module:
        """The network that predicts (``semi_test_cfg.predict_on``)."""
        return getattr(self, self.semi_test_cfg['predict_on'])

    def forward(self,
                inputs: Union[Tensor, Dict[str, Tensor]],
                data_samples: Union[OptSampleList,
                                    Dict[str, SampleList]] = None,
                mode: str = 'tensor'):
        """Dispatch to :meth:`loss`, :meth:`predict` or the predictor's
        ``_forward``."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.predictor._forward(inputs, data_samples)
        raise RuntimeError(f'Invalid mode "{mode}". Only supports loss, '
                           'predict and tensor mode')

    def loss(self, multi_batch_inputs: Dict[str, Tensor],
             multi_batch_data_samples: Dict[str, SampleList]) -> dict:
        """Losses of a multi-branch batch (implemented by subclasses)."""
        raise NotImplementedError(
            f'{type(self).__name__} does not implement loss()')

    def predict(self, inputs: Tensor,
                data_samples: OptSampleList = None) -> SampleList:
        """Predict with the student or the teacher (``semi_test_cfg``)."""
        return self.predictor.predict(inputs, data_samples)

    def extract_feat(self, inputs: Tensor) -> List[Tensor]:
        """Features of the predicting network."""
        return self.predictor.extract_feat(inputs)

    # ---------------------------------------------------------------- logits
    def teacher_logits(self, inputs: Tensor) -> Tensor:
        """Teacher logits at input resolution, in eval mode: the EMA teacher,
        or the student switched to eval mode for the call (and back)."""
        model = self.teacher if self.teacher_mode == 'ema' else self.student
        was_training = model.training
        model.eval()
        try:
            return decode_logits(model, inputs)
        finally:
            model.train(was_training)

    def student_logits(self, inputs: Tensor,
                       feat_fn: Optional[Callable] = None) -> Tensor:
        """The student's logits (:func:`decode_logits`) in its current mode."""
        return decode_logits(self.student, inputs, feat_fn)

    def check_branches(self, inputs: Dict[str, Tensor],
                       needed: Sequence[str], hint: str = '') -> None:
        """Raise a KeyError naming the ``MultiBranch`` branches missing from
        a batch.

        Args:
            inputs (dict): The batch's inputs by branch.
            needed (Sequence[str]): The branches the loss needs.
            hint (str): Appended to the message when a branch is missing.
        """
        missing = [k for k in needed if k not in inputs]
        if missing:
            raise KeyError(
                f'{type(self).__name__}: the batch has branches '
                f'{sorted(inputs)} but needs {missing}. Build the train '
                f'pipelines with mmdet.MultiBranch(branch_field='
                f'{list(needed)}, ...)' + hint)

    # -------------------------------------------------------------- loading
    def _load_from_state_dict(self, state_dict: dict, prefix: str,
                              local_metadata: dict, strict: bool,
                              missing_keys: List[str],
                              unexpected_keys: List[str],
                              error_msgs: List[str]) -> None:
        """Load a plain segmentor checkpoint into the student and teacher.

        A checkpoint without ``student.`` / ``teacher.`` keys is a plain
        segmentor's: its keys go to both networks, and the other state of
        this model (e.g. running statistics of a subclass) keeps its
        current values, i.e. starts afresh.
        """
        own = [k for k in state_dict if k.startswith(prefix)]
        nets = ['student'] + (['teacher'] if self.teacher_mode == 'ema'
                              else [])
        if own and not any(k[len(prefix):].startswith(('student.', 'teacher.'))
                           for k in own):
            for k in own:
                value = state_dict.pop(k)
                for net in nets:
                    state_dict[f'{prefix}{net}.{k[len(prefix):]}'] = value
            for name, child in self.named_children():
                if name not in nets:
                    for k, v in child.state_dict().items():
                        state_dict[f'{prefix}{name}.{k}'] = v.clone()
        super()._load_from_state_dict(state_dict, prefix, local_metadata,
                                      strict, missing_keys, unexpected_keys,
                                      error_msgs)
