"""Selector -> S4P hand-off (issue 26 item 4): the split file that
tools/select_data.py writes goes into the S4P config as docs/s4p.md says,
and the S4P unlabeled dataset built from it yields a batch."""
import os.path as osp
import shutil

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS
from selection_utils import UNLABELED

pytestmark = pytest.mark.xdist_group('seg_demo_scored')  # its session fixture

S4P_CFG = ('configs/s4p/'
           's4p-fixmatch_vit-b_upernet_8xb12-120k_isaid-rs4p-512x512.py')


def test_selector_split_feeds_the_s4p_config(seg_demo_scored, tmp_path,
                                             monkeypatch):
    monkeypatch.syspath_prepend('tools')
    import select_data
    work = str(tmp_path / 'w')
    shutil.copytree(seg_demo_scored[0], work)
    split = str(tmp_path / 'rs4p' / 'splits' / 'rs4p-1m.txt')
    select_data.main(['cluster', '--work-dir', work, '--num-clusters', '2'])
    select_data.main(['select', '--work-dir', work, '--budget', '6',
                      '--split-file', split])
    with open(split, encoding='utf-8') as f:
        chosen = f.read().splitlines()
    assert len(chosen) == 6

    # docs/s4p.md: point the unlabeled dataset at the pool root and split
    cfg = Config.fromfile(S4P_CFG)
    cfg.merge_from_dict({
        'train_dataloader.dataset.datasets.1.data_root': UNLABELED,
        'train_dataloader.dataset.datasets.1.ann_file': split})
    init_default_scope('mmseg')
    unl_cfg = cfg.train_dataloader.dataset.datasets[1]
    assert unl_cfg.type == 'UnlabeledImageDataset'
    ds = DATASETS.build(unl_cfg)
    assert len(ds) == 6
    assert [ds.get_data_info(i)['img_path'] for i in range(6)] == [
        osp.join(UNLABELED, p) for p in chosen]
    loader = torch.utils.data.DataLoader(ds, batch_size=2, shuffle=False,
                                         collate_fn=pseudo_collate)
    batch = next(iter(loader))
    teacher = batch['inputs']['unsup_teacher']
    student = batch['inputs']['unsup_student']
    # the 512 crop (padding happens in the data preprocessor); both views
    # of an image share the geometry
    for t, s in zip(teacher, student):
        assert t.shape == s.shape and t.shape[0] == 3
        assert max(t.shape[1:]) <= 512 and t.dtype == torch.uint8
    paths = [s.img_path for s in batch['data_samples']['unsup_teacher']]
    assert paths == [osp.join(UNLABELED, p) for p in chosen[:2]]
