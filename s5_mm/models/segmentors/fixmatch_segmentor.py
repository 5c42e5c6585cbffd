"""FixMatch semi-supervised segmentor (the S4P stage of S5): the loss steps."""
from functools import partial
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmdet.models.utils import rename_loss_dict, reweight_loss_dict
from mmengine.logging import MessageHub
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptConfigType, OptMultiConfig, SampleList
from torch import Tensor

from s5_mm.models.utils.perturbations import (channel_dropout,
                                              complementary_channel_dropout,
                                              cutmix, seeded_generator)
from s5_mm.models.utils.pseudo_label_balance import PseudoLabelClassStats
from .semi_base_segmentor import SemiBaseSegmentor, decode_logits

__all__ = ['FixMatchSegmentor', 'PseudoLabels', 'pseudo_label_loss',
           'decode_logits', 'DEFAULT_SEMI_TRAIN_CFG']

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


@MODELS.register_module()
class FixMatchSegmentor(SemiBaseSegmentor):
    """FixMatch for semantic segmentation, with UniMatch / UniMatch V2 options.

    S4P stage of `S5 <https://arxiv.org/abs/2508.12409>`_; method from
    `FixMatch <https://arxiv.org/abs/2001.07685>`_, with the options of
    `UniMatch <https://arxiv.org/abs/2208.09910>`_ and
    `UniMatch V2 <https://arxiv.org/abs/2410.10777>`_. The student / teacher
    plumbing is :class:`SemiBaseSegmentor`'s; inputs come as branches
    ``sup`` (labeled), ``unsup_teacher`` (weak view) and ``unsup_student``
    (+ ``unsup_student2``: strong views) from mmdet's ``MultiBranch`` and
    ``MultiBranchDataPreprocessor``; losses are prefixed ``sup_`` /
    ``unsup_``. The perturbations are the functions of
    :mod:`s5_mm.models.utils.perturbations`.

    :meth:`loss` runs named steps, as ``SemiBaseDetector`` does:

    1. :meth:`loss_by_gt`: the supervised loss on the labeled branch;
    2. :meth:`get_pseudo_labels`: the teacher predicts the weak view without
       gradient (pseudo-label = argmax, confidence = max softmax);
    3. :meth:`loss_by_pseudo_labels`: every strong view is CutMix-ed with the
       batch in reverse order (:meth:`cutmix`: one box per sample, applied
       alike to image, pseudo-label, confidence and padding mask) and the
       student learns the pseudo-labels on pixels with confidence >=
       ``conf_thr``;
    4. :meth:`loss_by_feature_perturbation`: UniMatch's FP stream (when
       ``fp_weight > 0``);
    5. :meth:`pseudo_label_stats`: the logged statistics.

    The loss is ``(sup_weight * L_sup + unsup_weight * L_unsup) / 2`` with
    ``L_unsup`` the cross-entropy on confident pixels normalised by the
    number of non-padding pixels (padding = ignore index in the weak view's
    ``gt_sem_seg``, see ``LoadIgnoreMask``).

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

    Random draws (CutMix boxes, dropout masks) of one :meth:`loss` call come
    from :meth:`iteration_generator`, so a resumed run draws what the
    uninterrupted run would have drawn.

    Args:
        segmentor (dict): Config of an mmseg ``EncoderDecoder``.
        semi_train_cfg (dict, optional): See above.
        semi_test_cfg (dict, optional): ``predict_on``: ``'student'`` or
            ``'teacher'`` (the default when the teacher is ``'ema'``).
        data_preprocessor (dict, optional): Usually mmdet's
            ``MultiBranchDataPreprocessor`` around ``SegDataPreProcessor``.
        init_cfg (dict, optional): Initialization config.
    """

    default_train_cfg = DEFAULT_SEMI_TRAIN_CFG
    removed_train_cfg_keys = dict(
        class_thr='the FreeMatch / FlexMatch thresholds, was removed: it '
        'lost to supervised-only training in bench/s4p_gain.py; use '
        'class_weight_power, see docs/s4p.md')

    def __init__(self,
                 segmentor: ConfigType,
                 semi_train_cfg: OptConfigType = None,
                 semi_test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(segmentor, semi_train_cfg, semi_test_cfg,
                         data_preprocessor, init_cfg)
        cfg = self.semi_train_cfg
        self.ignore_index = self.student.decode_head.ignore_index
        if cfg['class_weight_power'] != 0:
            self.class_stats = PseudoLabelClassStats(
                self.student.decode_head.out_channels,
                cfg['class_weight_power'], cfg['class_stats_momentum'])
        #: number of :meth:`loss` calls so far (the iteration without runner)
        self.loss_calls = 0

    def loss(self, multi_batch_inputs: Dict[str, Tensor],
             multi_batch_data_samples: Dict[str, SampleList]) -> dict:
        """Supervised + FixMatch losses from the multi-branch batch."""
        strong_keys = self.strong_branches()
        self.check_branches(
            multi_batch_inputs, ['sup', 'unsup_teacher'] + strong_keys,
            " (comp_drop=True needs a second strong view 'unsup_student2')"
            if self.semi_train_cfg['comp_drop'] else '')
        losses = self.loss_by_gt(multi_batch_inputs['sup'],
                                 multi_batch_data_samples['sup'])
        weak = multi_batch_inputs['unsup_teacher']
        pseudo = self.get_pseudo_labels(
            weak, multi_batch_data_samples['unsup_teacher'])
        generator = self.iteration_generator()
        unsup, _ = self.loss_by_pseudo_labels(
            [multi_batch_inputs[k] for k in strong_keys], pseudo, generator)
        losses.update(unsup)
        if self.semi_train_cfg['fp_weight'] > 0:
            losses.update(
                self.loss_by_feature_perturbation(weak, pseudo, generator))
        losses.update(self.pseudo_label_stats(pseudo))
        return losses

    def strong_branches(self) -> List[str]:
        """The strong views' branches: ``unsup_student`` (+
        ``unsup_student2`` with ``comp_drop``)."""
        return ['unsup_student'] + (['unsup_student2']
                                    if self.semi_train_cfg['comp_drop']
                                    else [])

    def iteration_generator(self) -> torch.Generator:
        """The random source of this :meth:`loss` call:
        :func:`~s5_mm.models.utils.perturbations.seeded_generator` of the
        runner's iteration (from the message hub) or, without a runner, of
        :attr:`loss_calls`."""
        it = MessageHub.get_current_instance().get_info('iter')
        if it is None:
            it = self.loss_calls
        self.loss_calls += 1
        return seeded_generator(it)

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
        probs = self.teacher_logits(weak).float().softmax(dim=1)
        conf, label = probs.max(dim=1)
        conf_thr = self.semi_train_cfg['conf_thr']
        class_weight = None
        if hasattr(self, 'class_stats'):
            if update_stats:
                self.class_stats.update(probs, ignore)
            class_weight = self.class_stats.class_weights()
        return PseudoLabels(label, conf, ignore, conf_thr, class_weight)

    def cutmix(self, image: Tensor, pseudo: PseudoLabels,
               generator: torch.Generator) -> Tuple[Tensor, PseudoLabels]:
        """:func:`~s5_mm.models.utils.perturbations.cutmix` of a strong view
        and its pseudo-labels with the configured box distribution.

        Args:
            image (Tensor): (B, C, H, W) strong view.
            pseudo (PseudoLabels): The weak view's pseudo-labels.
            generator (torch.Generator): Source of the random boxes.

        Returns:
            tuple[Tensor, PseudoLabels]: The mixed image and pseudo-labels
            (label, confidence and padding mask mixed alike).
        """
        cfg = self.semi_train_cfg
        mixed, (label, conf, ignore) = cutmix(
            image, (pseudo.label, pseudo.conf, pseudo.ignore),
            cfg['cutmix_prob'], cfg['cutmix_area'], cfg['cutmix_ratio'],
            generator)
        return mixed, pseudo._replace(label=label, conf=conf, ignore=ignore)

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
        mixed = [self.cutmix(view, pseudo, generator) for view in strong]
        feat_fn = None
        if cfg['comp_drop']:
            feat_fn = partial(complementary_channel_dropout,
                              keep_ratio=cfg['comp_drop_keep'],
                              generator=generator)
        logits = self.student_logits(torch.cat([m[0] for m in mixed]),
                                     feat_fn)
        loss = sum(
            pseudo_label_loss(lg, pl.label, pl.conf, pl.ignore, pl.conf_thr,
                              pl.class_weight)
            for lg, (_, pl) in zip(logits.chunk(len(mixed)), mixed))
        loss = loss / len(mixed) * (cfg['unsup_weight'] / 2) * (
            1 - cfg['fp_weight'])
        image, first = mixed[0]
        return dict(unsup_loss_seg=loss), dict(
            strong=image, pseudo_label=first.label, conf=first.conf,
            ignore=first.ignore, logits=logits[:len(image)])

    def loss_by_feature_perturbation(self, weak: Tensor, pseudo: PseudoLabels,
                                     generator: torch.Generator) -> dict:
        """UniMatch's feature-perturbation loss ``unsup_loss_fp``: the student
        on the weak view with channel dropout on its backbone features,
        against the uncut pseudo-labels, weighted by
        ``unsup_weight / 2 * fp_weight``."""
        cfg = self.semi_train_cfg
        logits = self.student_logits(
            weak, partial(channel_dropout, drop_prob=cfg['fp_drop'],
                          generator=generator))
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

    def _ignore_mask(self, data_samples: SampleList, weak: Tensor) -> Tensor:
        """(B, H, W) bool, True on pixels that are padding."""
        if not all('gt_sem_seg' in s for s in data_samples):
            raise KeyError(
                'FixMatchSegmentor: unlabeled samples need gt_sem_seg marking '
                "padding: add dict(type='LoadIgnoreMask') after loading the "
                'image in the unlabeled pipeline')
        masks = torch.stack([s.gt_sem_seg.data[0] for s in data_samples])
        return masks.to(weak.device) == self.ignore_index
