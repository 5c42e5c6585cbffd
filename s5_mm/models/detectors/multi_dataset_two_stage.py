"""Multi-dataset two-stage detector (MoE-MDF detection, S5 arXiv 2508.12409).

One backbone (e.g. ``mmseg.MoEViT`` + ``mmseg.Feature2Pyramid``) runs once on
a batch that may mix datasets; then every dataset's samples go through its
own :class:`DatasetBranch` (FPN, RPN and RoI head, e.g. mmrotate's Oriented
R-CNN parts), where mmdet's RPN/RoI plumbing is reused unchanged.
"""
import copy
from typing import Dict, List, Optional, Sequence, Tuple, Union

from mmdet.models.detectors import TwoStageDetector
from mmdet.structures import SampleList
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from mmengine.config import ConfigDict
from mmrotate.registry import MODELS
from torch import Tensor, nn

from s5_mm.models.utils.routing import (absent_dataset_loss,
                                        check_dataset_names,
                                        extract_routed_feat, get_dataset_ids,
                                        group_by_dataset, prefix_losses,
                                        select)

CfgOrCfgs = Union[ConfigType, Sequence[ConfigType]]


class DatasetBranch(TwoStageDetector):
    """Neck + RPN head + RoI head of one dataset, run on shared features.

    A plain mmdet :class:`TwoStageDetector` whose backbone is
    ``nn.Identity``: its input is the shared backbone's multi-level
    features, which its own neck (e.g. FPN), RPN and RoI head take as
    mmdet's ``extract_feat`` / ``loss`` / ``predict`` / ``_forward`` do,
    unchanged. Checkpoint keys: ``branches.<name>.neck.*``,
    ``.rpn_head.*``, ``.roi_head.*`` (the identity has no weights).

    Args:
        neck (dict): config of the per-dataset neck (e.g. ``mmdet.FPN``).
        rpn_head (dict): config of the RPN head.
        roi_head (dict): config of the RoI head.
        train_cfg (dict, optional): ``rpn``, ``rpn_proposal`` and ``rcnn``
            training settings, as for :class:`TwoStageDetector`.
        test_cfg (dict, optional): ``rpn`` and ``rcnn`` test settings.
    """

    def __init__(self,
                 neck: ConfigType,
                 rpn_head: ConfigType,
                 roi_head: ConfigType,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None) -> None:
        super().__init__(
            backbone=dict(type=nn.Identity),
            neck=neck,
            rpn_head=rpn_head,
            roi_head=roi_head,
            train_cfg=train_cfg,
            test_cfg=test_cfg)


@MODELS.register_module()
class MultiDatasetTwoStageDetector(TwoStageDetector):
    """Two-stage detector with a shared backbone and per-dataset heads.

    Paper: `S5: Scalable Semi-Supervised Semantic Segmentation in Remote
    Sensing <https://arxiv.org/abs/2508.12409>`_ (MoE-MDF, detection).

    Every data sample names its dataset in ``metainfo['dataset_name']`` (set
    by ``SetDatasetName`` at the end of that dataset's pipeline); its id is
    the position of the name in ``dataset_names``. If the backbone has
    ``dataset_names`` (``MoEViT``), the ids are passed so each sample uses
    its dataset's experts. Losses are prefixed with the
    dataset name (``dior/loss_rpn_cls``, ``dota/loss_bbox``, ...). A dataset
    absent from a batch adds a zero-weighted sum of its branch (and, for an
    MoE backbone, its experts) to the loss (``dior/loss_absent``), so all
    parameters take part in every step and DDP needs no
    ``find_unused_parameters`` (see :mod:`s5_mm.models.utils.routing`).

    Args:
        backbone (dict): shared backbone config.
        dataset_names (Sequence[str]): dataset names, in the order used for
            dataset ids (and for an MoE backbone's experts).
        neck (dict, optional): shared neck after the backbone (e.g.
            ``mmseg.Feature2Pyramid``).
        branch_neck (dict | list[dict]): per-dataset neck (e.g. ``mmdet.FPN``);
            one config used for every dataset, or one per dataset.
        rpn_head (dict | list[dict]): per-dataset RPN head config(s).
        roi_head (dict | list[dict]): per-dataset RoI head config(s).
        num_classes (Sequence[int], optional): classes of every dataset; sets
            ``roi_head.bbox_head.num_classes`` of each branch.
        train_cfg (dict, optional): shared train settings of the branches.
        test_cfg (dict, optional): shared test settings of the branches.
        data_preprocessor (dict, optional): e.g. ``mmdet.DetDataPreprocessor``.
        init_cfg (dict | list[dict], optional): initialisation config.
    """

    def __init__(self,
                 backbone: ConfigType,
                 dataset_names: Sequence[str],
                 branch_neck: CfgOrCfgs,
                 rpn_head: CfgOrCfgs,
                 roi_head: CfgOrCfgs,
                 neck: OptConfigType = None,
                 num_classes: Optional[Sequence[int]] = None,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(
            backbone=backbone,
            neck=neck,
            train_cfg=train_cfg,
            test_cfg=test_cfg,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        self.dataset_names = check_dataset_names(dataset_names)
        n = len(self.dataset_names)
        necks = self._per_dataset(branch_neck, 'branch_neck')
        rpn_heads = self._per_dataset(rpn_head, 'rpn_head')
        roi_heads = self._per_dataset(roi_head, 'roi_head')
        if num_classes is not None:
            if len(num_classes) != n:
                raise ValueError(
                    f'num_classes has {len(num_classes)} entries but there '
                    f'are {n} datasets {self.dataset_names}: give one class '
                    'count per dataset, in the same order')
            for cfg, classes in zip(roi_heads, num_classes):
                cfg['bbox_head']['num_classes'] = classes
        self.branches = nn.ModuleDict({
            name: DatasetBranch(
                necks[i], rpn_heads[i], roi_heads[i],
                train_cfg=copy.deepcopy(train_cfg),
                test_cfg=copy.deepcopy(test_cfg))
            for i, name in enumerate(self.dataset_names)
        })
        names = getattr(self.backbone, 'dataset_names', None)
        if names is not None and list(names) != self.dataset_names:
            raise ValueError(
                f'backbone dataset_names {list(names)} differ from the '
                f'detector dataset_names {self.dataset_names}: they must be '
                'the same list in the same order (expert k = dataset k)')

    # ------------------------------------------------------------- config
    def _per_dataset(self, cfg: CfgOrCfgs, key: str) -> List[ConfigDict]:
        """One deep-copied config per dataset from a config or a list."""
        n = len(self.dataset_names)
        cfgs = [cfg] * n if isinstance(cfg, dict) else list(cfg)
        if len(cfgs) != n:
            raise ValueError(
                f'{key} is a list of {len(cfgs)} configs but there are {n} '
                f'datasets {self.dataset_names}: give one config for all or '
                'one per dataset')
        return [ConfigDict(copy.deepcopy(c)) for c in cfgs]

    # ------------------------------------------------------------ features
    def extract_feat(self,
                     batch_inputs: Tensor,
                     dataset_ids: Optional[Tensor] = None) -> Tuple[Tensor]:
        """Shared backbone (+ shared neck) features for the whole batch.

        Args:
            batch_inputs (Tensor): images (N, C, H, W).
            dataset_ids (Tensor, optional): (N,) dataset ids, passed to an
                MoE backbone.
        """
        return extract_routed_feat(self, batch_inputs, dataset_ids)

    def _groups(self, batch_inputs: Tensor, batch_data_samples: SampleList):
        """Run the backbone once; yield (group, features of its samples)
        for every dataset, features None when it is absent."""
        ids = get_dataset_ids(batch_data_samples, self.dataset_names,
                              batch_inputs.device)
        feats = self.extract_feat(batch_inputs, ids)
        for group in group_by_dataset(ids, self.dataset_names,
                                      batch_data_samples):
            yield group, (select(feats, group.index)
                          if group.present else None)

    # --------------------------------------------------------------- modes
    def loss(self, batch_inputs: Tensor,
             batch_data_samples: SampleList) -> Dict[str, Tensor]:
        """Per-dataset losses, keys prefixed ``<dataset_name>/``."""
        losses: Dict[str, Tensor] = {}
        for group, feats in self._groups(batch_inputs, batch_data_samples):
            branch = self.branches[group.name]
            if not group.present:
                losses.update(
                    absent_dataset_loss(group, [branch], self.backbone))
                continue
            losses.update(
                prefix_losses(branch.loss(feats, group.samples), group.name))
        return losses

    def predict(self,
                batch_inputs: Tensor,
                batch_data_samples: SampleList,
                rescale: bool = True) -> SampleList:
        """Predict with each sample's dataset branch; fills
        ``pred_instances`` of every data sample (original order kept)."""
        for group, feats in self._groups(batch_inputs, batch_data_samples):
            if group.present:
                self.branches[group.name].predict(
                    feats, group.samples, rescale=rescale)
        return batch_data_samples

    def _forward(self, batch_inputs: Tensor,
                 batch_data_samples: SampleList) -> Dict[str, tuple]:
        """Raw head outputs of every dataset present: name -> RoI outputs."""
        return {
            group.name: self.branches[group.name]._forward(
                feats, group.samples)
            for group, feats in self._groups(batch_inputs, batch_data_samples)
            if group.present
        }
