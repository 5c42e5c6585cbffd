"""tools/test.py --tta (s5_mm.utils.tta.enable_tta) on a multi-dataset
config: every dataset keeps its own test pipeline, wrapped in TestTimeAug,
and SegTTAModel merges the views of each dataset's own head."""
import copy

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import MODELS, init_default_scope

import s5_mm  # noqa: F401
from s5_mm.apis import dataset_names, iter_dataset_cfgs
from s5_mm.utils.tta import enable_tta
from s5mm_tiny_configs import tiny_config

MOE_SEG = 'moe-mdf-p256_vit-b_upernet_8xb12-100e_rsseg4-512x512.py'
IMG = dict(vaihingen='tests/data/vaihingen/img_dir',
           potsdam='tests/data/potsdam/img_dir')


def test_every_dataset_pipeline_is_wrapped():
    cfg = tiny_config(MOE_SEG)
    before = {n: copy.deepcopy(d['pipeline'])
              for n, d in iter_dataset_cfgs(cfg.test_dataloader.dataset)}
    model = copy.deepcopy(cfg.model)
    enable_tta(cfg)
    assert cfg.model.type == 'MultiDatasetSegTTAModel'
    assert cfg.model.module == model
    leaves = dict(iter_dataset_cfgs(cfg.test_dataloader.dataset))
    assert sorted(leaves) == sorted(before)
    for name, leaf in leaves.items():
        load, tta = leaf['pipeline']
        assert load == before[name][0] and tta['type'] == 'TestTimeAug'
        views, *rest = tta['transforms']
        assert [v['prob'] for v in views] == [0., 1.]
        # the dataset's own steps (ending with its SetDatasetName) follow
        assert [r[0] for r in rest] == before[name][1:]
    assert dataset_names(cfg.test_dataloader.dataset) == list(before)
    with pytest.raises(KeyError, match='needs `tta_model`'):
        enable_tta(Config(dict(tta_model=None)))


def test_tta_predicts_the_mean_of_image_and_flip():
    """Through the wrapped pipelines, the TTA model's prediction for a
    potsdam image = argmax of the mean of the potsdam head's softmax on
    the image and on its flip (flipped back)."""
    import glob
    cfg = tiny_config(MOE_SEG)
    enable_tta(cfg)
    init_default_scope('mmseg')
    torch.manual_seed(0)
    tta = MODELS.build(cfg.model).eval()
    leaf = dict(iter_dataset_cfgs(cfg.test_dataloader.dataset))['potsdam']
    image = sorted(glob.glob(IMG['potsdam'] + '/*.png'))[0]
    views = Compose(leaf['pipeline'])(dict(
        img_path=image, seg_map_path=image.replace('img_dir', 'ann_dir'),
        reduce_zero_label=True, seg_fields=[]))
    data = pseudo_collate([views])
    with torch.no_grad():
        pred = tta.test_step(data)[0].pred_sem_seg.data[0]
        plain = tta.module
        probs = []
        for i in range(2):
            one = plain.data_preprocessor(dict(
                inputs=[views['inputs'][i]],
                data_samples=[views['data_samples'][i]]), False)
            assert one['data_samples'][0].dataset_name == 'potsdam'
            # (predict flips the flipped view's logits back itself)
            logits = plain.predict(one['inputs'],
                                   one['data_samples'])[0].seg_logits.data
            probs.append(logits.softmax(0))
        assert not torch.equal(probs[0], probs[1])
    assert torch.equal(pred, torch.stack(probs).mean(0).argmax(0))
