"""Multi-dataset encoder-decoder: one backbone, one decode head per dataset
(S5's (MoE-)MDF segmentor; routing rules in :mod:`s5_mm.models.utils.routing`).
"""
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmengine.config import ConfigDict
from mmseg.models.segmentors import BaseSegmentor
from mmseg.registry import MODELS
from mmseg.utils import (ConfigType, OptConfigType, OptMultiConfig,
                         OptSampleList, SampleList)
from torch import Tensor

from s5_mm.models.utils.routing import (DATASET_KEY, absent_dataset_loss,
                                        check_dataset_names,
                                        dataset_ids_from_names,
                                        extract_routed_feat, get_dataset_ids,
                                        group_by_dataset, is_routed,
                                        prefix_losses, select)
from .dataset_seg_branch import DatasetSegBranch


@MODELS.register_module()
class MultiDatasetEncoderDecoder(BaseSegmentor):
    """Encoder-decoder with a shared backbone/neck and per-dataset heads.

    `S5: Scalable Semi-Supervised Semantic Segmentation in Remote Sensing
    <https://arxiv.org/abs/2508.12409>`_ (MDF and MoE-MDF).

    Every sample names its dataset in its metainfo (``dataset_name``, set by
    ``SetDatasetName`` at the end of its dataset's pipeline).
    Each dataset has a :class:`DatasetSegBranch` (``branches[name]``): an
    mmseg ``EncoderDecoder`` with that dataset's decode (and auxiliary)
    head and test config over the shared backbone and neck, so mmseg's own
    whole / slide inference runs on it unchanged.

    Training runs ONE backbone pass for a batch that mixes datasets; each
    dataset's samples then go through their own branch's heads, and the
    losses are reported per dataset (``{name}/decode.loss_ce``, ...). Each
    head's loss is a mean over its own samples, the total is their sum.
    Heads (and MoE experts) of a dataset that is absent from a batch enter
    the loss with weight 0 (``{name}/loss_absent``), so DDP runs without
    ``find_unused_parameters`` (see :mod:`s5_mm.models.utils.routing`).

    Inference groups a batch by dataset and runs each group through its
    own branch (its head and test mode), so a sample's prediction does not
    depend on the rest of the batch.

    The backbone gets the samples' dataset ids only when it is routed (has a
    ``dataset_names`` attribute, e.g. ``MoEViT``, whose names must be the
    head names; its order defines the dataset ids); a plain
    ``VisionTransformer`` gives the MDF baseline.

    Checkpoint keys: ``backbone.*``, ``neck.*``, ``decode_heads.<name>.*``,
    ``auxiliary_heads.<name>.*`` (the branches are not child modules; they
    refer to these parts).

    Args:
        backbone (ConfigType): Backbone config.
        decode_heads (dict[str, ConfigType]): Decode head config per dataset
            name. Dataset ids are positions in the routed backbone's
            ``dataset_names`` (else in the key order of this dict).
        neck (OptConfigType): Shared neck config. Defaults to None.
        auxiliary_heads (dict[str, ConfigType], optional): Auxiliary head per
            dataset name (a subset of ``decode_heads``' names). Defaults to
            None.
        train_cfg (OptConfigType): Passed to the heads' ``loss``.
        test_cfg (OptConfigType): mmseg test config (``mode``, ``crop_size``,
            ``stride``) for every dataset, plus optional per-dataset
            overrides under ``per_dataset``, e.g.
            ``dict(mode='whole', per_dataset=dict(loveda=dict(mode='slide',
            crop_size=(512, 512), stride=(341, 341))))``. The modes of
            :mod:`~s5_mm.models.segmentors.prob_test_modes` work too.
        data_preprocessor (OptConfigType): Data preprocessor config.
        pretrained (str, optional): Backbone checkpoint path.
        init_cfg (OptMultiConfig): Initialisation config.
        decode_head (None): Must be None; accepted so that a config based on
            an mmseg single-head config can set ``decode_head=None``.
    """

    def __init__(self,
                 backbone: ConfigType,
                 decode_heads: Dict[str, ConfigType],
                 neck: OptConfigType = None,
                 auxiliary_heads: Optional[Dict[str, ConfigType]] = None,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 pretrained: Optional[str] = None,
                 init_cfg: OptMultiConfig = None,
                 decode_head: None = None):
        if decode_head is not None:
            raise TypeError(
                'MultiDatasetEncoderDecoder has one head per dataset: give '
                'decode_heads=dict(name=head config, ...) and set '
                'decode_head=None (e.g. when the base config has one)')
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if not isinstance(decode_heads, dict) or not decode_heads:
            raise TypeError(
                'MultiDatasetEncoderDecoder: decode_heads must be a non-empty '
                'dict {dataset name: head config}, got '
                f'{type(decode_heads).__name__}')
        check_dataset_names(list(decode_heads), 'decode_heads')
        if pretrained is not None:
            assert backbone.get('pretrained') is None, \
                'both backbone and segmentor set pretrained weight'
            backbone.pretrained = pretrained
        self.backbone = MODELS.build(backbone)
        self.backbone_is_routed = is_routed(self.backbone)
        # dataset ids are positions in the routed backbone's dataset_names
        # (a list, so its order survives config dumps, which sort dict keys)
        self.dataset_names: List[str] = list(
            self.backbone.dataset_names if self.backbone_is_routed else
            decode_heads)
        if set(self.dataset_names) != set(decode_heads):
            raise ValueError(
                f'backbone dataset_names {self.dataset_names} and the '
                f'decode_heads keys {sorted(decode_heads)} must name the same '
                'datasets (model.backbone.dataset_names and '
                'model.decode_heads in the config)')
        if neck is not None:
            self.neck = MODELS.build(neck)
        self.decode_heads = nn.ModuleDict({
            name: MODELS.build(decode_heads[name])
            for name in self.dataset_names
        })
        self.auxiliary_heads = nn.ModuleDict()
        for name, cfg in (auxiliary_heads or {}).items():
            if name not in self.decode_heads:
                raise KeyError(
                    f"auxiliary_heads has dataset '{name}' that has no decode "
                    f'head; decode_heads has {self.dataset_names}')
            self.auxiliary_heads[name] = MODELS.build(cfg)
        self.train_cfg = train_cfg
        test_cfgs = split_test_cfg(test_cfg, self.dataset_names)
        # plain dict, not child modules: the parts are registered above once
        self.branches: Dict[str, DatasetSegBranch] = {
            name: DatasetSegBranch(
                self.backbone,
                self.decode_heads[name],
                dataset_id=k,
                neck=self.neck if self.with_neck else None,
                auxiliary_head=self.auxiliary_heads[name]
                if name in self.auxiliary_heads else None,
                train_cfg=train_cfg,
                test_cfg=test_cfgs[name])
            for k, name in enumerate(self.dataset_names)
        }

    @property
    def with_decode_head(self) -> bool:
        """Always True: every dataset has a decode head."""
        return True

    @property
    def with_auxiliary_head(self) -> bool:
        """Whether any dataset has an auxiliary head."""
        return len(self.auxiliary_heads) > 0

    @property
    def decode_head(self) -> nn.Module:
        """The decode head of a model of ONE dataset; with several, a
        ValueError (not an AttributeError, which ``hasattr`` would swallow)
        says to use ``decode_heads[name]`` or ``branches[name]``."""
        if len(self.dataset_names) != 1:
            raise ValueError(
                'MultiDatasetEncoderDecoder has one decode head per dataset '
                f'({self.dataset_names}): use decode_heads[name] or '
                'branches[name].decode_head')
        return self.decode_heads[self.dataset_names[0]]

    def train(self, mode: bool = True) -> 'MultiDatasetEncoderDecoder':
        """Set train/eval mode, of the branches too (their parts are
        children of this model; the branch objects themselves are not)."""
        super().train(mode)
        for branch in self.branches.values():
            branch.training = mode
        return self

    # --- routing
    def _dataset_ids(self, inputs: Tensor,
                     data_samples: OptSampleList) -> Tensor:
        """Dataset id per sample; data samples may be omitted only for a
        single-dataset model."""
        if data_samples is not None:
            return get_dataset_ids(data_samples, self.dataset_names,
                                   inputs.device)
        if len(self.dataset_names) == 1:
            return inputs.new_zeros(inputs.shape[0], dtype=torch.long)
        raise ValueError(
            f'this model has datasets {self.dataset_names}: pass data samples '
            f"with '{DATASET_KEY}' in their metainfo to choose the head")

    def branch_of(self, batch_img_metas: Sequence[dict]) -> DatasetSegBranch:
        """The branch of a batch of ONE dataset, named by its metainfos'
        ``dataset_name`` (may be absent for a single-dataset model)."""
        names = {meta.get(DATASET_KEY) for meta in batch_img_metas}
        if names == {None} and len(self.dataset_names) == 1:
            return self.branches[self.dataset_names[0]]
        if len(names) != 1 or None in names:
            raise ValueError(
                'MultiDatasetEncoderDecoder.encode_decode / inference take a '
                f"batch of ONE dataset named by '{DATASET_KEY}' in every "
                f'metainfo, got {sorted(map(str, names))}: use predict() for '
                'a mixed batch')
        name = names.pop()
        dataset_ids_from_names([name], self.dataset_names)  # known name?
        return self.branches[name]

    def extract_feat(self,
                     inputs: Tensor,
                     dataset_ids: Union[Tensor, int, None] = None
                     ) -> List[Tensor]:
        """Backbone (routed by ``dataset_ids`` if it is an MoE backbone)
        and neck features of a batch."""
        return list(extract_routed_feat(self, inputs, dataset_ids))

    def encode_decode(self, inputs: Tensor,
                      batch_img_metas: List[dict]) -> Tensor:
        """Seg logits of a batch of one dataset (its branch's
        ``encode_decode``)."""
        return self.branch_of(batch_img_metas).encode_decode(
            inputs, batch_img_metas)

    def inference(self, inputs: Tensor, batch_img_metas: List[dict]) -> Tensor:
        """mmseg's whole / slide inference of a batch of one dataset, with
        that dataset's test config (its branch's ``inference``)."""
        return self.branch_of(batch_img_metas).inference(
            inputs, batch_img_metas)

    # --- training
    def loss(self, inputs: Tensor, data_samples: SampleList) -> dict:
        """Per-dataset losses of a (possibly mixed) batch.

        Labels are checked when they are loaded (``LoadAnnotationsChecked``)
        and the heads against the datasets when the runner starts
        (``DatasetClassCheckHook``); nothing here waits for the device.

        Args:
            inputs (Tensor): Images (B, C, H, W).
            data_samples (SampleList): Data samples with ``gt_sem_seg`` and
                ``dataset_name`` in their metainfo.

        Returns:
            dict[str, Tensor]: ``{name}/decode.*`` (and ``{name}/aux.*``)
            loss components; ``{name}/loss_absent`` (0) for an absent dataset.
        """
        ids = self._dataset_ids(inputs, data_samples)
        x = self.extract_feat(inputs, ids)
        losses: Dict[str, Tensor] = {}
        for group in group_by_dataset(ids, self.dataset_names, data_samples):
            branch = self.branches[group.name]
            if not group.present:
                heads = [branch.decode_head]
                if branch.with_auxiliary_head:
                    heads.append(branch.auxiliary_head)
                losses.update(absent_dataset_loss(group, heads, self.backbone))
                continue
            losses.update(
                prefix_losses(
                    branch.loss_by_feat(select(x, group.index), group.samples),
                    group.name))
        return losses

    # --- inference
    def predict(self,
                inputs: Tensor,
                data_samples: OptSampleList = None) -> SampleList:
        """Predict every sample with its own dataset's branch.

        Args:
            inputs (Tensor): Images (B, C, H, W).
            data_samples (SampleList, optional): Data samples with
                ``dataset_name``; may be None for a single-dataset model.

        Returns:
            SampleList: Data samples with ``seg_logits`` and
            ``pred_sem_seg``, in input order.
        """
        ids = self._dataset_ids(inputs, data_samples)
        if data_samples is None:
            return self.branches[self.dataset_names[0]].predict(inputs, None)
        for group in group_by_dataset(ids, self.dataset_names, data_samples):
            if group.present:
                self.branches[group.name].predict(
                    select(inputs, group.index), group.samples)
        return data_samples

    def _forward(self,
                 inputs: Tensor,
                 data_samples: OptSampleList = None) -> Dict[str, Tensor]:
        """Raw head outputs (tensor mode), as ``{dataset name: logits of
        that dataset's samples in batch order}``."""
        ids = self._dataset_ids(inputs, data_samples)
        x = self.extract_feat(inputs, ids)
        return {
            group.name:
            self.decode_heads[group.name].forward(select(x, group.index))
            for group in group_by_dataset(ids, self.dataset_names)
            if group.present
        }

    def aug_test(self, inputs, batch_img_metas, rescale=True):
        raise NotImplementedError(
            'MultiDatasetEncoderDecoder: use SegTTAModel for test-time '
            'augmentation (tools/test.py --tta)')


def split_test_cfg(test_cfg: OptConfigType,
                   dataset_names: Sequence[str]) -> Dict[str, ConfigDict]:
    """One full mmseg test config per dataset: the shared part updated by
    the dataset's entry of ``per_dataset``."""
    test_cfg = dict(test_cfg or dict(mode='whole'))
    per_dataset = dict(test_cfg.pop('per_dataset', None) or {})
    unknown = set(per_dataset) - set(dataset_names)
    if unknown:
        raise KeyError(
            f'test_cfg.per_dataset has unknown datasets {sorted(unknown)};'
            f' the model has {list(dataset_names)}')
    return {
        name: ConfigDict({**test_cfg, **per_dataset.get(name, {})})
        for name in dataset_names
    }
