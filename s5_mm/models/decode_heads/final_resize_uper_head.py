"""UPerHead whose final logit resize has its own ``align_corners``."""
from typing import List, Optional

import torch
from mmseg.models.decode_heads import UPerHead
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.utils import SampleList
from torch import Tensor


@MODELS.register_module()
class FinalResizeUPerHead(UPerHead):
    """mmseg's :class:`UPerHead` with a separate ``align_corners`` for the
    final resize of the logits to the input (prediction) or label (loss)
    size.

    The S5 authors (`S5 <https://arxiv.org/abs/2508.12409>`_, their
    ``model/semseg/upernet*.py``) run mmseg's UPerHead with
    ``align_corners=False`` (its top-down upsampling) but resize the final
    logits with ``F.interpolate(..., mode='bilinear', align_corners=True)``:
    one mmseg flag cannot express both. ``align_corners`` keeps its meaning
    inside the head; ``final_align_corners`` is used for the last resize.

    The logits are resized here to the size mmseg's ``predict_by_feat`` /
    ``loss_by_feat`` would resize them to, and then handed to those methods,
    whose own bilinear resize to the same size is the identity.

    A test pipeline ``Resize`` is undone later, by mmseg's
    ``postprocess_result`` with the segmentor's ``align_corners`` (the
    head's, ``False``); the authors' test-time resize (input to 512 and
    probabilities back, both ``align_corners=True``) is the segmentor test
    mode ``resize`` of :mod:`s5_mm.models.segmentors.prob_test_modes`.

    Args:
        final_align_corners (bool, optional): ``align_corners`` of the final
            logit resize. None: the same as ``align_corners``.
        **kwargs: Arguments of :class:`mmseg.models.decode_heads.UPerHead`.
    """

    def __init__(self, final_align_corners: Optional[bool] = None, **kwargs):
        super().__init__(**kwargs)
        self.final_align_corners = (self.align_corners
                                    if final_align_corners is None else
                                    bool(final_align_corners))

    def _final_resize(self, seg_logits: Tensor, size) -> Tensor:
        return resize(
            input=seg_logits,
            size=tuple(size),
            mode='bilinear',
            align_corners=self.final_align_corners,
            warning=False)

    def predict_by_feat(self, seg_logits: Tensor,
                        batch_img_metas: List[dict]) -> Tensor:
        """Resize the logits to the input size with
        ``final_align_corners``."""
        meta = batch_img_metas[0]
        # the size rule of mmseg's BaseDecodeHead.predict_by_feat
        if isinstance(meta['img_shape'], torch.Size):  # slide inference
            size = meta['img_shape']
        elif 'pad_shape' in meta:
            size = meta['pad_shape'][:2]
        else:
            size = meta['img_shape']
        return super().predict_by_feat(
            self._final_resize(seg_logits, size), batch_img_metas)

    def loss_by_feat(self, seg_logits: Tensor,
                     batch_data_samples: SampleList) -> dict:
        """Losses on the logits resized to the label size with
        ``final_align_corners``."""
        size = batch_data_samples[0].gt_sem_seg.data.shape[-2:]
        return super().loss_by_feat(
            self._final_resize(seg_logits, size), batch_data_samples)
