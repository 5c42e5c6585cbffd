"""tools/dataset_converters/openearthmap.py with labeled test images: their
labels go to ann_dir/test (one log line says how many); unlabeled test
images are converted without one."""
import importlib.util
import logging
import os
import os.path as osp

import numpy as np
from mmengine.logging import MMLogger
from PIL import Image

TOOL = 'tools/dataset_converters/openearthmap.py'


def load_tool():
    spec = importlib.util.spec_from_file_location('oem_converter_t', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_labeled_test_images_are_converted(tmp_path):
    rng = np.random.default_rng(0)
    release = tmp_path / 'OpenEarthMap_wo_xBD'
    splits = {'train': ['aachen_1.tif'], 'val': ['aachen_2.tif'],
              'test': ['aachen_9.tif', 'kyoto_4.tif']}
    labels = {}
    for split, names in splits.items():
        for name in names:
            region = release / name.rsplit('_', 1)[0]
            (region / 'images').mkdir(parents=True, exist_ok=True)
            (region / 'labels').mkdir(exist_ok=True)
            Image.fromarray(rng.integers(0, 255, (20, 30, 3), np.uint8)).save(
                region / 'images' / name)
            if name != 'kyoto_4.tif':  # one test image without a label
                labels[name] = rng.integers(0, 9, (20, 30), np.uint8)
                Image.fromarray(labels[name]).save(region / 'labels' / name)
        (release / f'{split}.txt').write_text('\n'.join(names) + '\n')
    out = tmp_path / 'oem'
    logged = []
    handler = logging.Handler()
    handler.emit = lambda record: logged.append(record.getMessage())
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        counts = load_tool().convert(str(release), str(out))
    finally:
        logger.removeHandler(handler)
    assert counts == {'train': 1, 'val': 1, 'test': 2}
    assert sorted(os.listdir(out / 'img_dir' / 'test')) == ['aachen_9.png',
                                                            'kyoto_4.png']
    assert os.listdir(out / 'ann_dir' / 'test') == ['aachen_9.png']
    for name, split in (('aachen_1.tif', 'train'), ('aachen_2.tif', 'val'),
                        ('aachen_9.tif', 'test')):
        written = np.asarray(Image.open(
            out / 'ann_dir' / split / (osp.splitext(name)[0] + '.png')))
        np.testing.assert_array_equal(written, labels[name])
    assert [m for m in logged if m.startswith('test:')] == [
        f"test: 1 of 2 images have a label, written to {out / 'ann_dir' / 'test'}"]
    assert not list(out.rglob('*.tmp'))

    # the converted test split reads with its labels
    from mmengine.registry import init_default_scope

    import s5_mm  # noqa: F401
    from s5_mm.datasets.openearthmap import OpenEarthMapDataset
    init_default_scope('mmseg')
    ds = OpenEarthMapDataset(
        data_root=str(out), data_prefix=dict(img_path='img_dir/test',
                                             seg_map_path='ann_dir/test'),
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='LoadAnnotationsChecked', num_classes=8)])
    sample = ds[0]
    lab = labels['aachen_9.tif']
    np.testing.assert_array_equal(sample['gt_seg_map'][lab > 0], lab[lab > 0] - 1)
