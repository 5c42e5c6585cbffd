"""LoadAnnotationsChecked: a label of the wrong size or with a value that is
neither a class nor the ignore index stops training with the file named."""
import os.path as osp
import shutil

import numpy as np
import pytest
from PIL import Image

import s5_mm  # noqa: F401
from s5_mm.datasets.transforms import LoadAnnotationsChecked
from script_runner import run_script

DEMO = 'configs/demo/upernet_vit-tiny_1xb4-60iter_loveda-sample-64x64.py'
LOVEDA = 'tests/data/loveda'


def _results(tmp_path, label, img_hw=(8, 8)):
    path = str(tmp_path / 'lab.png')
    Image.fromarray(label.astype(np.uint8)).save(path)
    return dict(seg_map_path=path, img_path='img.png', ori_shape=img_hw,
                reduce_zero_label=True, seg_fields=[])


def test_same_output_as_load_annotations(tmp_path):
    from mmseg.datasets.transforms import LoadAnnotations
    label = np.arange(64).reshape(8, 8) % 8  # 0 = ignore, 1..7 = classes
    ours = LoadAnnotationsChecked(num_classes=7, reduce_zero_label=True)(
        _results(tmp_path, label))
    ref = LoadAnnotations(reduce_zero_label=True)(_results(tmp_path, label))
    np.testing.assert_array_equal(ours['gt_seg_map'], ref['gt_seg_map'])
    assert ours['seg_fields'] == ['gt_seg_map']


def test_size_and_value_errors_name_the_file(tmp_path):
    t = LoadAnnotationsChecked(num_classes=7, reduce_zero_label=True)
    label = np.ones((8, 8))
    with pytest.raises(ValueError, match=r'lab\.png is 8x8 \(WxH\) but its '
                       r'image img\.png is 16x8'):
        t(_results(tmp_path, label, img_hw=(8, 16)))
    label[2, 3], label[4, 4] = 9, 50  # classes 8 and 49 after the reduction
    with pytest.raises(ValueError, match=r'lab\.png has values \[8, 49\] \(2 '
                       r'pixels, after reduce_zero_label=True\).*0\.\.6, '
                       r'num_classes=7.*ignore index 255'):
        t(_results(tmp_path, label))
    label[2, 3], label[4, 4] = 7, 0  # class 6 and ignore: fine
    t(_results(tmp_path, label))
    with pytest.raises(ValueError, match='num_classes'):
        LoadAnnotationsChecked(num_classes=0)


def test_bare_image_without_label_passes_through_mmseg_inference():
    """mmseg's inference_model drops only steps named exactly
    'LoadAnnotations': a bare image (no seg_map_path key) is returned
    unchanged, while any sample that names a label file is checked."""
    t = LoadAnnotationsChecked(num_classes=7)
    img = np.zeros((4, 4, 3), np.uint8)
    out = t(dict(img=img, ori_shape=(4, 4)))
    assert 'gt_seg_map' not in out and out['img'] is img
    with pytest.raises(FileNotFoundError):
        t(dict(img=img, ori_shape=(4, 4), seg_map_path='missing.png',
               reduce_zero_label=False, seg_fields=[]))


def _bad_tree(tmp_path, edit):
    root = tmp_path / 'loveda'
    shutil.copytree(LOVEDA, root)
    path = root / 'ann_dir' / '1.png'
    label = np.asarray(Image.open(path))
    Image.fromarray(edit(label)).save(path)
    return root, path


def _train(tmp_path, *options):
    cmd = ['tools/train.py', DEMO, '--work-dir',
           str(tmp_path / 'work'), '--cfg-options', 'train_cfg.max_iters=2',
           'train_cfg.val_interval=2', *options]
    return run_script(cmd, timeout=600)


@pytest.mark.parametrize('defect', ['half_size', 'value_50'])
def test_train_stops_on_a_bad_label(tmp_path, defect):
    def edit(label):
        if defect == 'half_size':
            return label[::2, ::2].copy()
        label = label.copy()
        label[0, :3] = 50
        return label

    root, path = _bad_tree(tmp_path, edit)
    proc = _train(tmp_path, f'train_dataloader.dataset.data_root={root}',
                  f'val_dataloader.dataset.data_root={root}')
    assert proc.returncode != 0
    assert f'label {path}' in proc.stderr
    if defect == 'half_size':
        assert 'is 512x512 (WxH) but its image' in proc.stderr
        assert '1024x1024' in proc.stderr
    else:
        assert 'has values [49] (3 pixels' in proc.stderr
    assert not osp.exists(tmp_path / 'work' / 'iter_2.pth')


def test_train_stops_on_a_head_of_the_wrong_class_count(tmp_path):
    proc = _train(tmp_path, 'model.decode_head.num_classes=9')
    assert proc.returncode != 0
    assert ('model head decode_head has num_classes=9 but dataset '
            "LoveDADataset, data_root='tests/data/loveda'") in proc.stderr
    assert '7 classes' in proc.stderr
    assert not osp.exists(tmp_path / 'work' / 'iter_2.pth')


def test_label_beyond_the_heads_classes_stops_loading(tmp_path):
    """Moved from test_multi_dataset_encoder_decoder.py::test_errors (the
    model's loss no longer checks labels, which synced the device): a loveda
    label of class 7 (raw 8) for the 7-class head stops the multi-dataset
    config's own loveda pipeline, naming the file, before any loss."""
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS

    from mdf_seg_utils import make_openearthmap, tiny_cfg
    from s5_mm.datasets.dataset_lookup import find_dataset_cfg
    init_default_scope('mmseg')
    root = tmp_path / 'loveda'
    shutil.copytree(LOVEDA, root)
    bad = root / 'ann_dir' / '1.png'
    label = np.array(Image.open(bad))
    label[0, 0] = 8  # after reduce_zero_label: 7, loveda has classes 0..6
    Image.fromarray(label).save(bad)
    cfg = tiny_cfg(make_openearthmap(str(tmp_path / 'oem')))
    loveda = find_dataset_cfg(cfg.train_dataloader.dataset, 'loveda')
    assert cfg.model.decode_heads.loveda.num_classes == 7
    dataset = DATASETS.build(dict(loveda, data_root=str(root)))
    index = [osp.basename(dataset.get_data_info(i)['seg_map_path'])
             for i in range(len(dataset))].index('1.png')
    dataset[index - 1 if index else index + 1]  # a good label loads
    with pytest.raises(ValueError, match=rf'{bad} has values \[7\] \(1 '
                       r'pixels, after reduce_zero_label=True\).*'
                       r'0\.\.6, num_classes=7'):
        dataset[index]
