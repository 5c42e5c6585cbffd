"""One dataset's segmentor inside a multi-dataset model: an mmseg
``EncoderDecoder`` over the shared backbone (+ neck) with its own heads."""
from typing import List, Optional

from mmseg.models.segmentors import BaseSegmentor, EncoderDecoder
from mmseg.utils import OptConfigType, SampleList
from torch import Tensor, nn

from s5_mm.models.utils.routing import extract_routed_feat
from .prob_test_modes import is_prob_mode, prob_inference


class DatasetSegBranch(EncoderDecoder):
    """The segmentor of one dataset: an mmseg ``EncoderDecoder`` whose
    backbone (and neck) are shared with the other datasets' branches.

    :class:`~s5_mm.models.segmentors.MultiDatasetEncoderDecoder` builds one
    per dataset. mmseg's ``EncoderDecoder.__init__`` builds every part from
    a config; a branch shares parts already built, so it takes them built
    and sets the attributes ``EncoderDecoder.__init__`` sets (``backbone``,
    ``neck``, ``decode_head``, ``auxiliary_head``, ``align_corners``,
    ``num_classes``, ``out_channels``, ``train_cfg``, ``test_cfg``), each a
    plain attribute. mmseg's ``loss``, ``predict``, whole / slide
    ``inference`` and ``postprocess_result`` then run unchanged; only
    :meth:`extract_feat` differs: it passes the dataset id to a routed
    backbone (``MoEViT``).

    A branch is not a child module of the multi-dataset model (which holds
    the parts under ``backbone``, ``neck``, ``decode_heads.<dataset>``,
    ``auxiliary_heads.<dataset>``), so checkpoint keys stay as they are;
    ``branch.state_dict()`` has the keys of a single-dataset mmseg model.

    Args:
        backbone (nn.Module): The shared backbone.
        decode_head (nn.Module): This dataset's decode head.
        dataset_id (int): This dataset's id (position in the routed
            backbone's ``dataset_names``), passed to a routed backbone.
        neck (nn.Module, optional): The shared neck.
        auxiliary_head (nn.Module, optional): This dataset's auxiliary head
            (a module, or an ``nn.ModuleList`` of them as in mmseg).
        train_cfg (OptConfigType): Passed to the heads' ``loss``.
        test_cfg (OptConfigType): This dataset's mmseg test config
            (``mode``, ``crop_size``, ``stride``).
    """

    def __init__(self,
                 backbone: nn.Module,
                 decode_head: nn.Module,
                 dataset_id: int,
                 neck: Optional[nn.Module] = None,
                 auxiliary_head: Optional[nn.Module] = None,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None) -> None:
        BaseSegmentor.__init__(self)
        self.backbone = backbone
        if neck is not None:
            self.neck = neck
        self.decode_head = decode_head
        self.align_corners = decode_head.align_corners
        self.num_classes = decode_head.num_classes
        self.out_channels = decode_head.out_channels
        if auxiliary_head is not None:
            self.auxiliary_head = auxiliary_head
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg
        self.dataset_id = dataset_id

    def extract_feat(self, inputs: Tensor) -> List[Tensor]:
        """Shared backbone features of this dataset's images (routed to its
        experts if the backbone is an MoE backbone), after the neck."""
        return list(extract_routed_feat(self, inputs, self.dataset_id))

    def inference(self, inputs: Tensor,
                  batch_img_metas: List[dict]) -> Tensor:
        """mmseg's whole / slide inference, or a mode of
        :mod:`~s5_mm.models.segmentors.prob_test_modes` (``resize``,
        ``slide_prob_sum``, ``flip_directions``: the S5 authors' test-time
        resizes and flips) when this dataset's ``test_cfg`` asks for one."""
        if is_prob_mode(self.test_cfg):
            return prob_inference(self.encode_decode, inputs,
                                  batch_img_metas, self.test_cfg)
        return super().inference(inputs, batch_img_metas)

    def loss_by_feat(self, feats: List[Tensor],
                     data_samples: SampleList) -> dict:
        """mmseg's decode (and auxiliary) head losses, ``decode.*`` /
        ``aux.*``, on features computed for a larger batch (the samples of
        this dataset selected from it)."""
        losses = self._decode_head_forward_train(feats, data_samples)
        if self.with_auxiliary_head:
            losses.update(
                self._auxiliary_head_forward_train(feats, data_samples))
        return losses
