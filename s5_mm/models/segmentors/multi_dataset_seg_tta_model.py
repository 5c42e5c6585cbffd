"""Test-time augmentation for segmentors with one head per dataset."""
from typing import List

import torch
from mmengine.structures import PixelData
from mmseg.models.segmentors.seg_tta import SegTTAModel
from mmseg.registry import MODELS
from mmseg.utils import SampleList


@MODELS.register_module()
class MultiDatasetSegTTAModel(SegTTAModel):
    """mmseg's ``SegTTAModel`` for ``MultiDatasetEncoderDecoder``.

    mmseg's version reads ``module.out_channels`` and ``module.decode_head``,
    which a model with one head per dataset has not. Here the class count of
    each sample is that of its own prediction (its dataset's head): the
    prediction is the argmax of the mean softmax over the views (each view's
    logits come back un-flipped from the segmentor's ``postprocess_result``).
    ``tools/test.py --tta`` picks it for multi-dataset configs
    (``s5_mm/utils/tta.py``).
    """

    def merge_preds(self, data_samples_list: List[SampleList]) -> SampleList:
        predictions = []
        for data_samples in data_samples_list:
            logits = [s.seg_logits.data for s in data_samples]
            if logits[0].shape[0] < 2:
                raise ValueError(
                    'MultiDatasetSegTTAModel merges multi-class predictions; '
                    f'got {logits[0].shape[0]} channel(s) for dataset '
                    f"{data_samples[0].metainfo.get('dataset_name')!r}")
            probs = torch.stack([x.softmax(dim=0) for x in logits]).mean(0)
            merged = data_samples[0]
            merged.set_data({'pred_sem_seg': PixelData(data=probs.argmax(0))})
            predictions.append(merged)
        return predictions
