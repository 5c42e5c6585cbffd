"""FixMatch semi-supervised segmentor (the S4P stage of S5)."""
import copy
from functools import partial
from typing import (Dict, List, NamedTuple, Optional, Sequence, Tuple,
                    Union)

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.models.utils import rename_loss_dict, reweight_loss_dict
from mmengine.dist import get_rank
from mmengine.logging import MessageHub
from mmengine.model import BaseModel
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.utils import (ConfigType, OptConfigType, OptMultiConfig,
                         OptSampleList, SampleList)
from torch import Tensor

from s5_mm.models.utils.pseudo_label_balance import PseudoLabelClassStats

DEFAULT_SEMI_TRAIN_CFG = dict(
    teacher='self',  # 'self' (paper) or 'ema' (needs EMATeacherHook)
    conf_thr=0.95,
    sup_weight=1.0,
    unsup_weight=1.0,
    cutmix_prob=0.5,
    cutmix_area=(0.02, 0.4),
    cutmix_ratio=(0.3, 1 / 0.3),
    comp_drop=False,  # UniMatch V2: two strong views, complementary dropout
    comp_drop_keep=0.5,  # fraction of samples whose features are not dropped
    fp_weight=0.0,  # UniMatch feature perturbation stream (0.5 to enable)
    fp_drop=0.5,
    log_class_hist=True,
    # off = the paper's recipe, see docs/s4p.md
    class_weight_power=0.0,  # > 0: class-frequency weights f_c ** -power
    class_stats_momentum=0.999,
)


def cutmix_boxes(num: int, height: int, width: int, prob: float,
                 area: Sequence[float], ratio: Sequence[float],
                 generator: torch.Generator) -> Tensor:
    """Random CutMix boxes as masks, as in UniMatch's ``obtain_cutmix_box``.

    With probability ``prob`` a sample gets a box whose area is a uniform
    fraction ``area`` of the image and whose aspect ratio h/w is uniform in
    ``ratio``, placed uniformly inside the image; otherwise an empty mask.

    Returns:
        Tensor: bool (num, height, width), True inside the box.
    """
    masks = torch.zeros(num, height, width, dtype=torch.bool)
    rnd = torch.rand(num, 5, generator=generator, dtype=torch.float64)
    for i in range(num):
        if rnd[i, 0] >= prob:
            continue
        frac = area[0] + (area[1] - area[0]) * rnd[i, 1].item()
        size = frac * height * width
        r = ratio[0] + (ratio[1] - ratio[0]) * rnd[i, 2].item()
        box_w = min(max(int((size / r)**0.5), 1), width)
        box_h = min(max(int((size * r)**0.5), 1), height)
        x = int(rnd[i, 3].item() * (width - box_w + 1))
        y = int(rnd[i, 4].item() * (height - box_h + 1))
        masks[i, y:y + box_h, x:x + box_w] = True
    return masks


def pseudo_label_loss(logits: Tensor,
                      pseudo_label: Tensor,
                      conf: Tensor,
                      ignore: Tensor,
                      conf_thr: float,
                      class_weight: Optional[Tensor] = None) -> Tensor:
    """FixMatch's unsupervised cross-entropy.

    Per-pixel CE against the pseudo-label, kept where the confidence is
    ``>= conf_thr`` and the pixel is not padding, summed and divided by the
    number of non-padding pixels (UniMatch's normalisation).

    Args:
        logits (Tensor): (B, C, H, W) student logits.
        pseudo_label (Tensor): (B, H, W) long.
        conf (Tensor): (B, H, W) max softmax of the teacher.
        ignore (Tensor): (B, H, W) bool, True on padding.
        conf_thr (float): Confidence threshold tau.
        class_weight (Tensor, optional): (C,) weight of each pixel's CE by
            its pseudo-label's class.
    """
    ce = F.cross_entropy(logits.float(), pseudo_label, reduction='none')
    keep = (conf >= conf_thr) & ~ignore
    if class_weight is not None:
        ce = ce * class_weight.to(ce.device)[pseudo_label]
    return (ce * keep).sum() / (~ignore).sum().clamp(min=1)


class PseudoLabels(NamedTuple):
    """The teacher's pseudo-labels of the weak view (all (B, H, W)).

    ``conf_thr`` is the threshold in force; ``class_weight`` (C,) the
    class weights of the unsupervised loss, or None.
    """
    label: Tensor
    conf: Tensor
    ignore: Tensor
    conf_thr: float
    class_weight: Optional[Tensor] = None


def decode_logits(model: nn.Module, inputs: Tensor, feat_fn=None) -> Tensor:
    """Decode-head logits of an mmseg ``EncoderDecoder`` resized to the input,
    optionally perturbing the backbone features with ``feat_fn`` before the
    neck."""
    if feat_fn is None:
        feats = model.extract_feat(inputs)
    else:
        feats = feat_fn(model.backbone(inputs))
        if model.with_neck:
            feats = model.neck(feats)
    logits = model.decode_head.forward(feats)
    return resize(logits, size=inputs.shape[2:], mode='bilinear',
                  align_corners=model.align_corners)


@MODELS.register_module()
class FixMatchSegmentor(BaseModel):
    """FixMatch for semantic segmentation, with UniMatch / UniMatch V2 options.

    S4P stage of `S5 <https://arxiv.org/abs/2508.12409>`_; method from
    `FixMatch <https://arxiv.org/abs/2001.07685>`_, with the options of
    `UniMatch <https://arxiv.org/abs/2208.09910>`_ and
    `UniMatch V2 <https://arxiv.org/abs/2410.10777>`_. Follows mmdet's
    ``SemiBaseDetector``: one segmentor config builds the student (and the
    EMA teacher), inputs come as branches ``sup`` (labeled), ``unsup_teacher``
    (weak view) and ``unsup_student`` (+ ``unsup_student2``: strong views) from
    mmdet's ``MultiBranch`` and ``MultiBranchDataPreprocessor``, and losses are
    prefixed ``sup_`` / ``unsup_``.

    :meth:`loss` runs named steps, as ``SemiBaseDetector`` does:

    1. :meth:`loss_by_gt`: the supervised loss on the labeled branch;
    2. :meth:`get_pseudo_labels`: the teacher predicts the weak view without
       gradient (pseudo-label = argmax, confidence = max softmax);
    3. :meth:`loss_by_pseudo_labels`: every strong view is CutMix-ed with the
       batch in reverse order (one box per sample, applied alike to image,
       pseudo-label, confidence and padding mask) and the student learns the
       pseudo-labels on pixels with confidence >= ``conf_thr``;
    4. :meth:`loss_by_feature_perturbation`: UniMatch's FP stream (when
       ``fp_weight > 0``);
    5. :meth:`pseudo_label_stats`: the logged statistics.

    The loss is ``(sup_weight * L_sup + unsup_weight * L_unsup) / 2`` with
    ``L_unsup`` the cross-entropy on confident pixels normalised by the
    number of non-padding pixels (padding = ignore index in the weak view's
    ``gt_sem_seg``, see ``LoadIgnoreMask``). :meth:`fixmatch_views` gives
    ``FixMatchVisualizationHook`` the views of a batch.

    ``semi_train_cfg`` keys (defaults in ``DEFAULT_SEMI_TRAIN_CFG``):

    - ``teacher``: ``'self'`` (the paper: the student in eval mode predicts
      the weak view) or ``'ema'`` (separate teacher updated by
      ``EMATeacherHook`` / mmdet's ``MeanTeacherHook``).
    - ``conf_thr``, ``sup_weight``, ``unsup_weight``.
    - ``cutmix_prob``, ``cutmix_area``, ``cutmix_ratio``: the CutMix box.
    - ``comp_drop``: UniMatch V2's two strong views whose backbone features
      get complementary channel dropout (needs an ``unsup_student2``
      branch); ``comp_drop_keep``: fraction of samples left undropped.
    - ``fp_weight``: weight of UniMatch's feature-perturbation stream (the
      student on the weak view with channel dropout ``fp_drop`` on its
      backbone features, against the uncut pseudo-label);
      ``L_unsup = (1 - fp_weight) * L_strong + fp_weight * L_fp``.
    - ``log_class_hist``: log the share of each class among confident
      pseudo-labels (``unsup_pl_cls{k}``), besides ``unsup_conf_ratio``.
    - ``class_weight_power`` (0 = off), ``class_stats_momentum``:
      class-frequency weights of the unsupervised loss against
      majority-class confirmation bias, see
      :class:`~s5_mm.models.utils.pseudo_label_balance.PseudoLabelClassStats`.
      Off by default; when on, ``unsup_w_cls{k}`` is logged.

    Random draws (CutMix boxes, dropout masks) use a generator seeded with
    torch's initial seed, the rank and the runner's iteration, so a resumed
    run draws what the uninterrupted run would have drawn.

    Args:
        segmentor (dict): Config of an mmseg ``EncoderDecoder``.
        semi_train_cfg (dict, optional): See above.
        semi_test_cfg (dict, optional): ``predict_on``: ``'student'`` or
            ``'teacher'`` (the default when the teacher is ``'ema'``).
        data_preprocessor (dict, optional): Usually mmdet's
            ``MultiBranchDataPreprocessor`` around ``SegDataPreProcessor``.
        init_cfg (dict, optional): Initialization config.
    """

    def __init__(self,
                 segmentor: ConfigType,
                 semi_train_cfg: OptConfigType = None,
                 semi_test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        cfg = dict(DEFAULT_SEMI_TRAIN_CFG)
        unknown = set(semi_train_cfg or {}) - set(cfg)
        if unknown:
            hint = (' (class_thr, the FreeMatch / FlexMatch thresholds, '
                    'was removed: it lost to supervised-only training in '
                    'bench/s4p_gain.py; use class_weight_power, see '
                    'docs/s4p.md)'
                    if 'class_thr' in unknown else '')
            raise KeyError(f'FixMatchSegmentor: unknown semi_train_cfg keys '
                           f'{sorted(unknown)}; valid keys: {sorted(cfg)}'
                           + hint)
        cfg.update(semi_train_cfg or {})
        if cfg['teacher'] not in ('self', 'ema'):
            raise ValueError("FixMatchSegmentor: semi_train_cfg.teacher must "
                             f"be 'self' or 'ema', got {cfg['teacher']!r}")
        self.semi_train_cfg = cfg
        self.semi_test_cfg = dict(
            predict_on='teacher' if cfg['teacher'] == 'ema' else 'student')
        self.semi_test_cfg.update(semi_test_cfg or {})
        if (self.semi_test_cfg['predict_on'] == 'teacher'
                and cfg['teacher'] != 'ema'):
            raise ValueError("FixMatchSegmentor: semi_test_cfg.predict_on="
                             "'teacher' needs semi_train_cfg.teacher='ema'")
        self.student = MODELS.build(segmentor)
        if cfg['teacher'] == 'ema':
            self.teacher = MODELS.build(copy.deepcopy(segmentor))
            self.teacher.eval()
            self.teacher.requires_grad_(False)
        self.ignore_index = self.student.decode_head.ignore_index
        if cfg['class_weight_power'] != 0:
            self.class_stats = PseudoLabelClassStats(
                self.student.decode_head.out_channels,
                cfg['class_weight_power'], cfg['class_stats_momentum'])
        self._calls = 0

    # ------------------------------------------------------------------ modes
    def train(self, mode: bool = True) -> 'FixMatchSegmentor':
        """Set the train mode; an EMA teacher always stays in eval mode."""
        super().train(mode)
        if hasattr(self, 'teacher'):
            self.teacher.eval()
        return self

    def forward(self,
                inputs: Union[Tensor, Dict[str, Tensor]],
                data_samples: Union[OptSampleList,
                                    Dict[str, SampleList]] = None,
                mode: str = 'tensor'):
        """Dispatch to :meth:`loss`, :meth:`predict` or :meth:`_forward`."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self._predictor()._forward(inputs, data_samples)
        raise RuntimeError(f'Invalid mode "{mode}". Only supports loss, '
                           'predict and tensor mode')

    def _predictor(self) -> nn.Module:
        return getattr(self, self.semi_test_cfg['predict_on'])

    def predict(self, inputs: Tensor,
                data_samples: OptSampleList = None) -> SampleList:
        """Predict with the student or the teacher (``semi_test_cfg``)."""
        return self._predictor().predict(inputs, data_samples)

    def extract_feat(self, inputs: Tensor) -> List[Tensor]:
        """Features of the predicting network."""
        return self._predictor().extract_feat(inputs)

    # --------------------------------------------------------------- training
    def loss(self, multi_batch_inputs: Dict[str, Tensor],
             multi_batch_data_samples: Dict[str, SampleList]) -> dict:
        """Supervised + FixMatch losses from the multi-branch batch."""
        strong_keys = self._strong_branches(multi_batch_inputs)
        losses = self.loss_by_gt(multi_batch_inputs['sup'],
                                 multi_batch_data_samples['sup'])
        weak = multi_batch_inputs['unsup_teacher']
        pseudo = self.get_pseudo_labels(
            weak, multi_batch_data_samples['unsup_teacher'])
        generator = self._generator()
        unsup, _ = self.loss_by_pseudo_labels(
            [multi_batch_inputs[k] for k in strong_keys], pseudo, generator)
        losses.update(unsup)
        if self.semi_train_cfg['fp_weight'] > 0:
            losses.update(
                self.loss_by_feature_perturbation(weak, pseudo, generator))
        losses.update(self.pseudo_label_stats(pseudo))
        return losses

    def loss_by_gt(self, inputs: Tensor, data_samples: SampleList) -> dict:
        """Supervised losses of the student, ``sup_``-prefixed and weighted
        by ``sup_weight / 2``."""
        losses = self.student.loss(inputs, data_samples)
        return rename_loss_dict(
            'sup_',
            reweight_loss_dict(losses, self.semi_train_cfg['sup_weight'] / 2))

    @torch.no_grad()
    def get_pseudo_labels(self,
                          weak: Tensor,
                          data_samples: SampleList,
                          update_stats: bool = True) -> PseudoLabels:
        """The teacher's pseudo-labels of the weak view.

        With ``class_weight_power > 0``, the batch first updates the class
        statistics (all ranks, collective) unless ``update_stats`` is False,
        and the pseudo-labels carry the class weights.

        Args:
            weak (Tensor): (B, 3, H, W) preprocessed weak views.
            data_samples (list[SegDataSample]): Their samples, whose
                ``gt_sem_seg`` marks padding with the ignore index.
            update_stats (bool): Add this batch to the class statistics.
        """
        ignore = self._ignore_mask(data_samples, weak)
        probs = self._teacher_logits(weak).float().softmax(dim=1)
        conf, label = probs.max(dim=1)
        conf_thr = self.semi_train_cfg['conf_thr']
        class_weight = None
        if hasattr(self, 'class_stats'):
            if update_stats:
                self.class_stats.update(probs, ignore)
            class_weight = self.class_stats.class_weights()
        return PseudoLabels(label, conf, ignore, conf_thr, class_weight)

    def loss_by_pseudo_labels(
            self, strong: Sequence[Tensor], pseudo: PseudoLabels,
            generator: torch.Generator) -> Tuple[dict, dict]:
        """Strong-view loss ``unsup_loss_seg`` against CutMix-ed
        pseudo-labels, weighted by ``unsup_weight / 2 * (1 - fp_weight)``.

        Args:
            strong (list[Tensor]): The strong views (one, or two with
                ``comp_drop``), each (B, 3, H, W).
            pseudo (PseudoLabels): From :meth:`get_pseudo_labels`.
            generator (torch.Generator): This iteration's random source.

        Returns:
            tuple[dict, dict]: The loss, and the first strong view's tensors
            (``strong``: mixed image, ``pseudo_label``, ``conf``,
            ``ignore``, ``logits``).
        """
        cfg = self.semi_train_cfg
        images, targets = [], []
        for view in strong:
            image, *target = self.cutmix(view, pseudo.label, pseudo.conf,
                                         pseudo.ignore, generator)
            images.append(image)
            targets.append(target)
        feat_fn = None
        if cfg['comp_drop']:
            feat_fn = partial(self._comp_dropout, generator=generator)
        logits = self._student_logits(torch.cat(images), feat_fn)
        loss = sum(
            pseudo_label_loss(lg, *tgt, pseudo.conf_thr, pseudo.class_weight)
            for lg, tgt in zip(logits.chunk(len(images)), targets))
        loss = loss / len(images) * (cfg['unsup_weight'] / 2) * (
            1 - cfg['fp_weight'])
        first = dict(zip(('pseudo_label', 'conf', 'ignore'), targets[0]),
                     strong=images[0], logits=logits[:len(images[0])])
        return dict(unsup_loss_seg=loss), first

    def loss_by_feature_perturbation(self, weak: Tensor, pseudo: PseudoLabels,
                                     generator: torch.Generator) -> dict:
        """UniMatch's feature-perturbation loss ``unsup_loss_fp``: the student
        on the weak view with channel dropout on its backbone features,
        against the uncut pseudo-labels, weighted by
        ``unsup_weight / 2 * fp_weight``."""
        cfg = self.semi_train_cfg
        logits = self._student_logits(
            weak, partial(self._channel_dropout, generator=generator))
        scale = cfg['unsup_weight'] / 2
        return dict(unsup_loss_fp=scale * cfg['fp_weight'] * pseudo_label_loss(
            logits, pseudo.label, pseudo.conf, pseudo.ignore, pseudo.conf_thr,
            pseudo.class_weight))

    def pseudo_label_stats(self, pseudo: PseudoLabels) -> dict:
        """Share of valid pixels above the threshold (``unsup_conf_ratio``),
        the class histogram of the confident ones (``unsup_pl_cls{k}``) and,
        with ``class_weight_power > 0``, the class weights
        (``unsup_w_cls{k}``)."""
        keep = (pseudo.conf >= pseudo.conf_thr) & ~pseudo.ignore
        valid = (~pseudo.ignore).sum().clamp(min=1)
        stats = dict(unsup_conf_ratio=keep.sum() / valid)
        num_classes = self.student.decode_head.out_channels
        if self.semi_train_cfg['log_class_hist']:
            hist = torch.bincount(pseudo.label[keep], minlength=num_classes)
            hist = hist.float() / hist.sum().clamp(min=1)
            stats.update({f'unsup_pl_cls{k}': hist[k]
                          for k in range(num_classes)})
        if pseudo.class_weight is not None:
            stats.update({f'unsup_w_cls{k}': pseudo.class_weight[k]
                          for k in range(num_classes)})
        return stats

    @torch.no_grad()
    def fixmatch_views(self, data_batch: dict,
                       num_samples: int) -> Dict[str, Tensor]:
        """The first ``num_samples`` unlabeled samples of a training batch as
        FixMatch sees them, for ``FixMatchVisualizationHook``.

        Re-runs :meth:`get_pseudo_labels` and the CutMix of
        :meth:`loss_by_pseudo_labels` on ``data_batch`` with the current
        weights and this iteration's CutMix boxes, the student predicting the
        mixed strong view in eval mode.
        Nothing is updated: class and BN statistics and random generators
        are left as they were.

        Args:
            data_batch (dict): A raw multi-branch batch from the dataloader.
            num_samples (int): How many samples to return (at most the
                batch size).

        Returns:
            dict[str, Tensor]: ``weak``, ``strong`` (N, 3, H, W) preprocessed
            images; ``pseudo_label``, ``conf``, ``ignore``, ``conf_thr``
            (per-pixel threshold), ``pred`` (N, H, W).
        """
        data = self.data_preprocessor(data_batch, True)
        inputs, samples = data['inputs'], data['data_samples']
        weak = inputs['unsup_teacher']
        was_training = self.training
        try:
            pseudo = self.get_pseudo_labels(
                weak, samples['unsup_teacher'], update_stats=False)
            self.student.eval()
            image, label, conf, ignore = self.cutmix(
                inputs['unsup_student'], pseudo.label, pseudo.conf,
                pseudo.ignore, self._generator(advance=False))
            pred = decode_logits(self.student, image[:num_samples])
        finally:
            self.train(was_training)
        n = num_samples
        return dict(weak=weak[:n], strong=image[:n], pseudo_label=label[:n],
                    conf=conf[:n], ignore=ignore[:n],
                    conf_thr=torch.full_like(conf[:n], pseudo.conf_thr),
                    pred=pred.argmax(dim=1))

    def cutmix(self, image: Tensor, pseudo_label: Tensor, conf: Tensor,
               ignore: Tensor, generator: torch.Generator) -> List[Tensor]:
        """CutMix a strong view with the batch in reverse order.

        Sample ``i`` gets, inside its box, the pixels of sample ``B - 1 - i``:
        the same box for the image, the pseudo-label, the confidence and the
        padding mask.

        Args:
            image (Tensor): (B, C, H, W) strong view.
            pseudo_label, conf, ignore (Tensor): (B, H, W) from the weak view.
            generator (torch.Generator): Source of the random boxes.

        Returns:
            list[Tensor]: mixed image, pseudo-label, confidence, ignore mask.
        """
        cfg = self.semi_train_cfg
        b, _, h, w = image.shape
        box = cutmix_boxes(b, h, w, cfg['cutmix_prob'], cfg['cutmix_area'],
                           cfg['cutmix_ratio'], generator).to(image.device)
        return [torch.where(box[:, None], image.flip(0), image)] + [
            torch.where(box, t.flip(0), t)
            for t in (pseudo_label, conf, ignore)
        ]

    def _strong_branches(self, inputs: Dict[str, Tensor]) -> List[str]:
        keys = ['unsup_student']
        if self.semi_train_cfg['comp_drop']:
            keys.append('unsup_student2')
        needed = ['sup', 'unsup_teacher'] + keys
        missing = [k for k in needed if k not in inputs]
        if missing:
            raise KeyError(
                f'FixMatchSegmentor: the batch has branches {sorted(inputs)} '
                f'but needs {missing}. Build the train pipelines with '
                f"mmdet.MultiBranch(branch_field={needed}, ...)"
                + (' (comp_drop=True needs a second strong view '
                   "'unsup_student2')" if 'unsup_student2' in missing else ''))
        return keys

    def _ignore_mask(self, data_samples: SampleList, weak: Tensor) -> Tensor:
        """(B, H, W) bool, True on pixels that are padding."""
        if not all('gt_sem_seg' in s for s in data_samples):
            raise KeyError(
                'FixMatchSegmentor: unlabeled samples need gt_sem_seg marking '
                "padding: add dict(type='LoadIgnoreMask') after loading the "
                'image in the unlabeled pipeline')
        masks = torch.stack([s.gt_sem_seg.data[0] for s in data_samples])
        return masks.to(weak.device) == self.ignore_index

    def _teacher_logits(self, inputs: Tensor) -> Tensor:
        """Teacher logits at input resolution, in eval mode: the EMA teacher,
        or the student switched to eval mode for the call."""
        model = self.teacher if self.semi_train_cfg['teacher'] == 'ema' \
            else self.student
        was_training = model.training
        model.eval()
        try:
            return decode_logits(model, inputs)
        finally:
            model.train(was_training)

    def _student_logits(self, inputs: Tensor, feat_fn=None,
                        model: Optional[nn.Module] = None) -> Tensor:
        """The student's logits (:func:`decode_logits`) in its current mode;
        ``model`` replaces the student by a replica of it (tests)."""
        return decode_logits(self.student if model is None else model, inputs,
                             feat_fn)

    def _generator(self, advance: bool = True) -> torch.Generator:
        """Generator seeded by torch's seed, the rank and the iteration.

        The runner's iteration (from the message hub) makes a resumed run
        draw what the uninterrupted run drew; without a runner, a call
        counter stands in. ``advance=False`` gives the generator of the
        last training call again (for :meth:`fixmatch_views`).
        """
        it = MessageHub.get_current_instance().get_info('iter')
        if it is None:
            it = self._calls if advance else max(self._calls - 1, 0)
        if advance:
            self._calls += 1
        seed = torch.initial_seed() + 1000003 * (it + 1) + 7919 * get_rank()
        return torch.Generator().manual_seed(seed % (2**63))

    def _channel_dropout(self, feats: Sequence[Tensor],
                         generator: torch.Generator) -> List[Tensor]:
        """Dropout2d-like channel dropout (UniMatch's feature perturbation)."""
        p = self.semi_train_cfg['fp_drop']
        out = []
        for f in feats:
            keep = torch.rand(f.shape[:2], generator=generator) >= p
            scale = (keep.to(f) / (1 - p))[..., None, None]
            out.append(f * scale.to(f.device))
        return out

    def _comp_dropout(self, feats: Sequence[Tensor],
                      generator: torch.Generator) -> List[Tensor]:
        """UniMatch V2's complementary channel dropout over two views.

        The batch is [view 1; view 2] of the same images. View 1 keeps a
        random half of the channels (x2), view 2 the other half (x2);
        a random ``comp_drop_keep`` share of the images is left undropped.
        """
        n = feats[0].shape[0] // 2
        n_kept = int(n * self.semi_train_cfg['comp_drop_keep'])
        kept = torch.randperm(n, generator=generator)[:n_kept]
        masks: Dict[int, Tensor] = {}
        out = []
        for f in feats:
            c = f.shape[1]
            if c not in masks:
                m1 = (torch.rand(n, c, generator=generator) < 0.5).float() * 2
                m2 = 2 - m1
                m1[kept] = 1.0
                m2[kept] = 1.0
                masks[c] = torch.cat([m1, m2]).to(f)
            out.append(f * masks[c][..., None, None].to(f.device))
        return out

    # -------------------------------------------------------------- loading
    def _load_from_state_dict(self, state_dict: dict, prefix: str,
                              local_metadata: dict, strict: bool,
                              missing_keys: List[str],
                              unexpected_keys: List[str],
                              error_msgs: List[str]) -> None:
        """Load a plain segmentor checkpoint into the student and teacher
        (the class statistics, if any, then start afresh)."""
        own = [k for k in state_dict if k.startswith(prefix)]
        nets = ['student'] + (['teacher'] if hasattr(self, 'teacher') else [])
        if own and not any(k[len(prefix):].startswith(('student.', 'teacher.'))
                           for k in own):
            for k in own:
                value = state_dict.pop(k)
                for net in nets:
                    state_dict[f'{prefix}{net}.{k[len(prefix):]}'] = value
            if hasattr(self, 'class_stats'):
                for k, v in self.class_stats.state_dict().items():
                    state_dict[f'{prefix}class_stats.{k}'] = v.clone()
        super()._load_from_state_dict(state_dict, prefix, local_metadata,
                                      strict, missing_keys, unexpected_keys,
                                      error_msgs)
