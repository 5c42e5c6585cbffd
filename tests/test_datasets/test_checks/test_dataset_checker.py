"""s5_mm.datasets.checks.dataset_checker: one sample checked as the
offline checker checks it (findings and class histogram counted here),
and a whole config's datasets compared with their own heads."""
import numpy as np
from PIL import Image

from s5_mm.datasets.checks.dataset_checker import (Sample, check_sample,
                                                   pipeline_band_rule)


def write_pair(tmp_path, label, hw=(4, 5)):
    img = tmp_path / 'img.png'
    Image.fromarray(np.zeros((*hw, 3), np.uint8)).save(img)
    ann = tmp_path / 'ann.png'
    Image.fromarray(label.astype(np.uint8)).save(ann)
    return str(img), str(ann)


def test_seg_sample_findings_and_histogram(tmp_path):
    label = np.array([[0, 1, 2, 2, 255],
                      [1, 1, 5, 0, 255],
                      [2, 2, 2, 2, 2],
                      [0, 0, 0, 1, 7]])
    img, ann = write_pair(tmp_path, label)
    found, hist, empty = check_sample(
        Sample('seg', img, ann, classes=('a', 'b', 'c')))
    assert [(f.file, f.rule) for f in found] == [(ann, 'label_value')]
    assert 'values [5, 7] (2 pixels' in found[0].message
    assert hist.shape == (256, )
    assert hist[:3].tolist() == [5, 4, 7]
    assert hist[5] == hist[7] == 1 and hist[255] == 2
    assert hist.sum() == label.size and not empty
    # reduce_zero_label: 0 -> 255, v -> v - 1, as mmseg's loader does
    found, hist, _ = check_sample(Sample('seg', img, ann, classes=(
        'a', 'b', 'c', 'd', 'e', 'f', 'g'), reduce_zero_label=True))
    assert found == [] and hist[:3].tolist() == [4, 7, 0]
    assert hist[4] == hist[6] == 1 and hist[255] == 5 + 2


def test_seg_sample_size_missing_and_empty(tmp_path):
    img, ann = write_pair(tmp_path, np.zeros((4, 4)), hw=(4, 5))
    found, _, _ = check_sample(Sample('seg', img, ann, classes=('a', )))
    assert [f.rule for f in found] == ['size_mismatch']
    img, ann = write_pair(tmp_path, np.full((4, 5), 255))
    found, hist, empty = check_sample(Sample('seg', img, ann, classes=('a',)))
    assert [f.rule for f in found] == ['no_labeled_pixels'] and empty
    assert hist[255] == 20
    found, _, _ = check_sample(Sample('seg', str(tmp_path / 'no.png'),
                                      str(tmp_path / 'no_ann.png'), ('a', )))
    assert [f.rule for f in found] == ['missing_image', 'missing_label']
    (tmp_path / 'bad.png').write_bytes(b'\x89PNG broken')
    found, _, _ = check_sample(Sample('images', str(tmp_path / 'bad.png')))
    assert [f.rule for f in found] == ['unreadable_image']


def test_dota_sample_counts_objects_per_class(tmp_path):
    img = tmp_path / 'p.png'
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(img)
    ann = tmp_path / 'p.txt'
    ann.write_text('1 1 9 1 9 9 1 9 ship 0\n2 2 8 2 8 8 2 8 ship 1\n'
                   '1 1 9 1 9 9 1 9 harbor 0\n1 1 90 1 90 9 1 9 ship 0\n')
    found, counts, empty = check_sample(
        Sample('dota', str(img), str(ann), ('plane', 'ship', 'harbor')))
    assert counts.tolist() == [0, 3, 1] and not empty
    assert [f.rule for f in found] == ['box_outside_image']
    ann.write_text('')
    found, counts, empty = check_sample(
        Sample('dota', str(img), str(ann), ('plane', 'ship', 'harbor')))
    assert [f.rule for f in found] == ['no_objects'] and empty
    assert counts.tolist() == [0, 0, 0]


def test_pipeline_band_rule():
    rule = dict(bands=[3, 2, 1], scale=[[0, 1000]] * 3)
    assert pipeline_band_rule([
        dict(type='Resize'),
        dict(type='s5_mm.LoadImageChecked', band_rule=rule)]) == rule
    assert pipeline_band_rule([dict(type='LoadImageChecked')]) == {}
    assert pipeline_band_rule([dict(type='LoadImageFromFile')]) == {}


def test_multi_dataset_config_maps_each_head_to_its_dataset():
    """The shipped MDF config (4 datasets, 4 heads) on the bundled crops:
    each dataset is compared with its own head; a wrong one is named."""
    from mmengine.config import Config

    from s5_mm.datasets.checks.dataset_checker import check_config
    cfg = Config.fromfile(
        'configs/mdf_seg/mdf_vit-b_upernet_8xb12-100e_rsseg4-512x512.py')
    bundled = dict(vaihingen='tests/data/vaihingen',
                   potsdam='tests/data/potsdam', loveda='tests/data/loveda')
    for ds in cfg.train_dataloader.dataset.datasets:
        name = ds.pipeline[-1].name
        if name in bundled:
            ds.update(data_root=bundled[name], data_prefix=dict(
                img_path='img_dir', seg_map_path='ann_dir'))
    for name in bundled:
        report = check_config(cfg, 'train', name, progress=False)
        entry = report['datasets'][f'train/{name}']
        assert report['ok'] and entry['samples'] >= 1, entry
        assert entry['heads'] == {
            f'model.decode_heads.{name}': len(entry['classes'])}
    cfg.model.decode_heads.loveda.num_classes = 9
    report = check_config(cfg, 'train', 'loveda', progress=False)
    assert not report['ok']
    [error] = report['datasets']['train/loveda']['errors']
    assert error['rule'] == 'num_classes'
    assert error['message'].startswith(
        "model head model.decode_heads.loveda has num_classes=9 "
        "but dataset 'loveda'")
