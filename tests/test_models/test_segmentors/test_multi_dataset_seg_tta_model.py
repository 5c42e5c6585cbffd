"""s5_mm.models.segmentors.multi_dataset_seg_tta_model: each sample's views
merged as the argmax of their mean softmax, with the sample's own class
count (computed here)."""
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from s5_mm.models.segmentors.multi_dataset_seg_tta_model import \
    MultiDatasetSegTTAModel


class Segmentor(torch.nn.Module):
    """What the TTA wrapper needs of the model it wraps."""

    def test_step(self, data):
        raise NotImplementedError


def view(logits, name):
    sample = SegDataSample(metainfo=dict(dataset_name=name))
    sample.seg_logits = PixelData(data=logits)
    return sample


def test_argmax_of_the_mean_softmax_per_sample():
    model = MultiDatasetSegTTAModel(module=Segmentor())
    torch.manual_seed(0)
    a = [torch.randn(3, 2, 2) * 3 for _ in range(2)]   # 3 classes
    b = [torch.randn(5, 2, 2) * 3 for _ in range(3)]   # 5 classes
    # a case where the mean of logits and the mean of softmax disagree
    a[0][:, 0, 0] = torch.tensor([4., 0., 3.9])
    a[1][:, 0, 0] = torch.tensor([0., 3., -5.])
    merged = model.merge_preds([[view(x, 'a') for x in a],
                                [view(x, 'b') for x in b]])
    for sample, views in zip(merged, (a, b)):
        probs = [torch.exp(x) / torch.exp(x).sum(0) for x in views]
        expected = (sum(probs) / len(probs)).argmax(0)
        # (PixelData keeps a 2-D map as 1 x H x W)
        assert torch.equal(sample.pred_sem_seg.data, expected[None])
    # softmax mean [.28, .48, .24]: class 1; the logit mean says class 0
    assert merged[0].pred_sem_seg.data[0, 0, 0] == 1
    assert (a[0] + a[1]).argmax(0)[0, 0] == 0
    assert [s.metainfo['dataset_name'] for s in merged] == ['a', 'b']


def test_single_channel_prediction_is_refused():
    model = MultiDatasetSegTTAModel(module=Segmentor())
    with pytest.raises(ValueError, match="1 channel\\(s\\) for dataset 'c'"):
        model.merge_preds([[view(torch.zeros(1, 2, 2), 'c')]])
