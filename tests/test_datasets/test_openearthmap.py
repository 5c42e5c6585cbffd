"""OpenEarthMap converter (released layout -> mmseg layout) and dataset."""
import importlib.util
import os
import os.path as osp

import numpy as np
import pytest
from mmengine.registry import init_default_scope
from PIL import Image

import s5_mm  # noqa: F401
from s5_mm.datasets.openearthmap import OpenEarthMapDataset


def load_converter(repo_root):
    path = osp.join(repo_root, 'tools/dataset_converters/openearthmap.py')
    spec = importlib.util.spec_from_file_location('oem_converter', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_release(root, rng):
    """A tiny OpenEarthMap_wo_xBD: two regions (one with an underscore in
    its name), GeoTIFF-named images and labels, split files."""
    names = {'train': ['aachen_1.tif', 'port_au_prince_3.tif'],
             'val': ['aachen_2.tif'], 'test': ['aachen_9.tif']}
    labels = {}
    for split, files in names.items():
        for name in files:
            region = name.rsplit('_', 1)[0]
            os.makedirs(osp.join(root, region, 'images'), exist_ok=True)
            os.makedirs(osp.join(root, region, 'labels'), exist_ok=True)
            img = rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)
            Image.fromarray(img).save(osp.join(root, region, 'images', name))
            if split != 'test':
                lab = rng.integers(0, 9, (24, 32), dtype=np.uint8)
                Image.fromarray(lab).save(
                    osp.join(root, region, 'labels', name))
                labels[name] = lab
        with open(osp.join(root, f'{split}.txt'), 'w') as f:
            f.write('\n'.join(files) + '\n')
    return names, labels


def test_convert_and_load(tmp_path, repo_root):
    rng = np.random.default_rng(0)
    release, out = str(tmp_path / 'release'), str(tmp_path / 'oem')
    names, labels = make_release(release, rng)
    counts = load_converter(repo_root).convert(release, out)
    assert counts == {'train': 2, 'val': 1, 'test': 1}
    for name, lab in labels.items():
        split = 'val' if name in names['val'] else 'train'
        stem = osp.splitext(name)[0]
        written = np.array(Image.open(osp.join(out, 'ann_dir', split,
                                               stem + '.png')))
        np.testing.assert_array_equal(written, lab)
        assert osp.isfile(osp.join(out, 'img_dir', split, stem + '.png'))
    assert os.listdir(osp.join(out, 'img_dir', 'test')) == ['aachen_9.png']

    init_default_scope('mmseg')
    dataset = OpenEarthMapDataset(
        data_root=out,
        data_prefix=dict(img_path='img_dir/train',
                         seg_map_path='ann_dir/train'),
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='LoadAnnotations', reduce_zero_label=True),
                  dict(type='PackSegInputs')])
    assert len(dataset) == 2
    assert dataset.metainfo['classes'][0] == 'bareland'
    assert len(dataset.metainfo['classes']) == 8
    sample = dataset[0]
    gt = sample['data_samples'].gt_sem_seg.data[0].numpy()
    lab = labels['aachen_1.tif']
    # 0 = unknown -> ignored; 1..8 -> classes 0..7
    np.testing.assert_array_equal(gt[lab == 0], 255)
    np.testing.assert_array_equal(gt[lab > 0], lab[lab > 0] - 1)


def test_converter_errors(tmp_path, repo_root):
    rng = np.random.default_rng(1)
    release = str(tmp_path / 'release')
    make_release(release, rng)
    conv = load_converter(repo_root)
    os.remove(osp.join(release, 'aachen', 'labels', 'aachen_2.tif'))
    with pytest.raises(FileNotFoundError, match='aachen_2.tif'):
        conv.convert(release, str(tmp_path / 'out'), splits=['val'])
    with pytest.raises(FileNotFoundError, match='train.txt'):
        conv.convert(str(tmp_path), str(tmp_path / 'out'), splits=['train'])
    bad = rng.integers(9, 20, (24, 32), dtype=np.uint8)
    Image.fromarray(bad).save(osp.join(release, 'aachen', 'labels',
                                       'aachen_1.tif'))
    with pytest.raises(ValueError, match='outside 0..8'):
        conv.convert(release, str(tmp_path / 'out2'), splits=['train'])
