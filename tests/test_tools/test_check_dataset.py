"""tools/analysis_tools/check_dataset.py: one planted defect of each kind is
listed with its file and rule (exit 1); the bundled data passes (exit 0)."""
import glob
import json
import os
import os.path as osp
import shutil

import cv2
import numpy as np
import pytest
from PIL import Image
from script_runner import run_script

TOOL = 'tools/analysis_tools/check_dataset.py'
S4P_DEMO = ('configs/demo/s4p-fixmatch_vit-tiny_1xb2+2-60iter_loveda-sample-'
            'unlabeled-64x64.py')
DET = 'configs/mdf_det/moe-mdf-p256_vit-b_oriented-rcnn-le90_8xb2-12e_dior-r-dota2-1024x1024.py'
DOTA_SRC = 'tests/data/dota_split'
DIOR_SRC = 'tests/data/dior'
XML = 'Annotations/Oriented Bounding Boxes'


def run_tool(*args, out):
    proc = run_script([TOOL, *map(str, args), '--out', str(out)],
                      timeout=600)
    report = None
    if osp.isfile(osp.join(out, 'report.json')):
        with open(osp.join(out, 'report.json')) as f:
            report = json.load(f)
    return proc, report


def findings(report, kind='errors'):
    """{(file basename, rule)} over all datasets."""
    return {(osp.basename(f['file']), f['rule'])
            for d in report['datasets'].values() for f in d[kind]}


def det_config(tmp_path, dota_root, dior_root):
    """The shipped multi-dataset detection config on other data roots."""
    path = tmp_path / 'det_cfg.py'
    path.write_text(f"""
_base_ = [{osp.abspath(DET)!r}]
dior_ds = dict(_base_.dior_test_dataset, data_root={str(dior_root)!r},
               ann_file='demo.txt', data_prefix=dict(img_path='JPEGImage'))
dota_ds = dict(_base_.dota_train_dataset, data_root={str(dota_root)!r},
               ann_file='labelTxt/', data_prefix=dict(img_path='images/'))
train_dataloader = dict(dataset=dict(datasets=[dior_ds, dota_ds]))
val_dataloader = dict(dataset=dict(datasets=[dior_ds, dota_ds]))
test_dataloader = val_dataloader
""")
    return path


def seg_config(tmp_path, seg_root, unlabeled_root):
    """The S4P demo (labeled + unlabeled) on other data roots, with a head
    of 9 classes for LoveDA's 7."""
    path = tmp_path / 'seg_cfg.py'
    path.write_text(f"""
_base_ = [{osp.abspath(S4P_DEMO)!r}]
train_dataloader = dict(dataset=dict(datasets=[
    dict(_base_.train_dataloader.dataset.datasets[0],
         data_root={str(seg_root)!r}),
    dict(_base_.train_dataloader.dataset.datasets[1],
         data_root={str(unlabeled_root)!r})]))
val_dataloader = dict(dataset=dict(data_root={str(seg_root)!r}))
test_dataloader = val_dataloader
model = dict(segmentor=dict(decode_head=dict(num_classes=9)))
""")
    return path


@pytest.fixture(scope='module')
def planted(tmp_path_factory):
    """A LoveDA-layout tree, an unlabeled folder, a DOTA and a DIOR-R tree,
    each file with one defect (or none)."""
    root = tmp_path_factory.mktemp('planted')
    rng = np.random.default_rng(0)
    seg = root / 'seg'
    (seg / 'img_dir').mkdir(parents=True)
    (seg / 'ann_dir').mkdir()

    def pair(name, img_hw=(32, 32), lab=None):
        img = rng.integers(0, 255, (*img_hw, 3), dtype=np.uint8)
        Image.fromarray(img).save(seg / 'img_dir' / name)
        if lab is not None:
            Image.fromarray(lab.astype(np.uint8)).save(seg / 'ann_dir' / name)

    good = rng.integers(0, 8, (32, 32))
    good[3, 4] = 2
    pair('good.png', lab=good)
    pair('unreadable.png', lab=good)
    (seg / 'img_dir' / 'unreadable.png').write_bytes(b'\x89PNG broken')
    pair('half.png', lab=good[:16, :16])
    value = good.copy()
    value[3, 4] = 50  # 49 after reduce_zero_label
    pair('value.png', lab=value)
    pair('nolabel.png')
    pair('allzero.png', lab=np.zeros((32, 32)))  # all ignore: a warning
    unl = root / 'unlabeled'
    unl.mkdir()
    Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(
        unl / 'ok.jpg')
    (unl / 'corrupt.jpg').write_bytes(b'not a jpeg')

    dota = root / 'dota'
    shutil.copytree(DOTA_SRC, dota)
    ann = dota / 'labelTxt'
    line = '10 10 20 10 20 20 10 20 ship 0\n'
    with open(ann / 'P0706__1__0___0.txt', 'a') as f:
        f.write('10 10 20 10 20 ship 0\n')  # malformed
    with open(ann / 'P0706__1__0___256.txt', 'a') as f:
        f.write(line.replace('ship', 'boat'))  # unknown class
    with open(ann / 'P0706__1__0___512.txt', 'a') as f:
        f.write('600 10 700 10 700 20 600 20 ship 0\n')  # outside 512x512
    # P1088__1__1024___768 has no objects (a warning)

    dior = root / 'dior'
    shutil.copytree(DIOR_SRC, dior)
    xml = dior / XML / '00001.xml'
    text = xml.read_text().replace('<name>golffield</name>',
                                   '<name>golfcourse</name>')
    xml.write_text(text.replace('<x_right_top>684', '<x_right_top>884'))
    return dict(seg=seg, unlabeled=unl, dota=dota, dior=dior, good=good)


def test_every_planted_defect_is_listed(planted, tmp_path):
    cfg = seg_config(tmp_path, planted['seg'], planted['unlabeled'])
    proc, report = run_tool(cfg, '--workers', 2, out=tmp_path / 'seg')
    assert proc.returncode == 1, proc.stderr[-3000:]
    errors = findings(report)
    assert {('unreadable.png', 'unreadable_image'),
            ('half.png', 'size_mismatch'),
            ('value.png', 'label_value'),
            ('nolabel.png', 'missing_label'),
            ('corrupt.jpg', 'unreadable_image'),
            ('seg_cfg.py', 'num_classes')} <= errors
    assert ('allzero.png', 'no_labeled_pixels') in findings(report,
                                                            'warnings')
    assert not {f for f in errors if f[0] in ('good.png', 'ok.jpg')}
    train = report['datasets']['train/LoveDADataset']
    value_msg = [f['message'] for f in train['errors']
                 if f['rule'] == 'label_value'][0]
    assert 'values [49]' in value_msg and 'value.png' in value_msg
    head_msg = [f['message'] for f in train['errors']
                if f['rule'] == 'num_classes'][0]
    assert 'num_classes=9' in head_msg and '7 classes' in head_msg
    assert train['heads'] == {'model.segmentor.decode_head': 9}
    # pixel histogram: good, unreadable (its label is fine), half, value
    good = planted['good']
    assert sum(train['class_counts'].values()) == int(
        (good > 0).sum() * 3 + (good[:16, :16] > 0).sum() - 1)
    assert 'train/UnlabeledImageDataset' in report['datasets']
    out = proc.stdout + proc.stderr
    assert f"ERROR size_mismatch {planted['seg'] / 'ann_dir' / 'half.png'}" \
        in out
    assert osp.getsize(tmp_path / 'seg' / 'class_histogram.png') > 0
    # one 10 x 2.8 inch panel per labeled dataset at 80 dpi, not blank
    panels = sum(bool(d.get('class_counts'))
                 for d in report['datasets'].values())
    hist = np.asarray(Image.open(tmp_path / 'seg' / 'class_histogram.png'))
    assert panels >= 1 and hist.shape[:2] == (224 * panels, 800)
    assert hist.reshape(-1, hist.shape[2]).std(0).max() > 10

    cfg = det_config(tmp_path, planted['dota'], planted['dior'])
    proc, report = run_tool(cfg, '--split', 'train', out=tmp_path / 'det')
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert findings(report) == {
        ('P0706__1__0___0.txt', 'malformed_line'),
        ('P0706__1__0___256.txt', 'unknown_class'),
        ('P0706__1__0___512.txt', 'box_outside_image'),
        ('00001.xml', 'unknown_class'),
        ('00001.xml', 'box_outside_image'),
    }
    assert findings(report, 'warnings') >= {
        ('P1088__1__1024___768.txt', 'no_objects')}
    assert set(report['datasets']) == {'train/dior', 'train/dota'}


def test_bundled_data_passes(tmp_path):
    # the S4P demo holds the plain demo's LoveDA set and the unlabeled set
    for i, cfg in enumerate((S4P_DEMO,
                             det_config(tmp_path, DOTA_SRC, DIOR_SRC))):
        proc, report = run_tool(cfg, out=tmp_path / f'out{i}')
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert report['ok'] and report['errors'] == 0
    dota = report['datasets']['train/dota']
    assert dota['samples'] == 4 and dota['empty'] == 1
    assert sum(dota['class_counts'].values()) == 81 + 138 + 136
    dior = report['datasets']['train/dior']  # one image, one golf field
    assert dior['samples'] == 1 and dior['empty'] == 0
    assert dior['class_counts']['golffield'] == 1
    assert sum(dior['class_counts'].values()) == 1
    assert report['datasets']['train/dior']['heads'] == {
        'model.num_classes[0]': 20}


def test_dataset_selection_and_unknown_name(tmp_path):
    from mmengine.config import Config

    from s5_mm.datasets.checks.dataset_checker import check_config
    report = check_config(Config.fromfile(S4P_DEMO), 'train',
                          'UnlabeledImageDataset', progress=False)
    assert list(report['datasets']) == ['train/UnlabeledImageDataset']
    assert report['datasets']['train/UnlabeledImageDataset']['samples'] == 72
    assert report['ok']
    proc, _ = run_tool(S4P_DEMO, '--dataset', 'nope', out=tmp_path / 'b')
    assert proc.returncode != 0
    assert "no dataset named 'nope'" in proc.stderr
    assert "['LoveDADataset', 'UnlabeledImageDataset']" in proc.stderr


def _outside(line, w=256, h=256):
    """How far (px) a DOTA line's corners reach out of a w x h patch."""
    c = np.array(line.split()[:8], float)
    return max(-c[0::2].min(), c[0::2].max() - w, -c[1::2].min(),
               c[1::2].max() - h, 0.)


@pytest.fixture(scope='module')
def split_det(tmp_path_factory):
    """The raw DOTA scene P1888 split by mmrotate's tool at 256 / 64 (boxes
    cut at patch borders), and DIOR-R with a class in another case."""
    from dota_split_utils import split_p1888
    root = tmp_path_factory.mktemp('split_det')
    dota = split_p1888(root / 'dota', size=256, gap=64)
    dior = root / 'dior'
    shutil.copytree(DIOR_SRC, dior)
    xml = dior / XML / '00001.xml'
    xml.write_text(xml.read_text().replace(
        '<name>golffield</name>', '<name>Expressway-Service-area</name>'))
    return dota, dior


def _det_cfg(tmp_path, dota_root, dior_root):
    path = det_config(tmp_path, dota_root, dior_root)
    path.write_text(path.read_text().replace(
        "ann_file='labelTxt/'", "ann_file='annfiles/'"))
    return path


def test_split_tool_output_passes_and_unlabeled_images_are_counted(
        split_det, tmp_path):
    dota, dior = split_det
    lines = [line for p in glob.glob(osp.join(dota, 'annfiles', '*.txt'))
             for line in open(p)]
    cut = [line for line in lines if _outside(line) > 1]
    assert len(cut) == 13 and all(line.split()[9] == '2' for line in cut)
    assert max(map(_outside, cut)) >= 9  # e.g. 9 px out of a 256 px patch
    copy = tmp_path / 'dota'
    shutil.copytree(dota, copy)
    names = sorted(os.listdir(copy / 'annfiles'))
    for name in names[:2]:
        os.remove(copy / 'annfiles' / name)
    cfg = _det_cfg(tmp_path, copy, dior)
    proc, report = run_tool(cfg, '--split', 'train', out=tmp_path / 'a')
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert report['errors'] == 0
    warned = [f for f in report['datasets']['train/dota']['warnings']
              if f['rule'] == 'image_without_label']
    assert len(warned) == 1
    assert '2 image(s) in' in warned[0]['message']
    assert names[0].replace('.txt', '.png') in warned[0]['message']
    assert report['datasets']['train/dior']['class_counts'][
        'expressway-service-area'] == 1
    proc, report = run_tool(cfg, '--split', 'train', '--strict',
                            out=tmp_path / 'b')
    assert proc.returncode == 1
    assert [f['rule'] for d in report['datasets'].values()
            for f in d['errors']] == ['image_without_label']


def test_real_defects_of_this_round_are_errors(split_det, tmp_path):
    dota, dior = split_det
    copy, dior_copy = tmp_path / 'dota', tmp_path / 'dior'
    shutil.copytree(dota, copy)
    shutil.copytree(dior, dior_copy)
    ann = copy / 'annfiles'
    names = sorted(p[:-4] for p in os.listdir(ann))
    cut = next(line for n in names for line in open(ann / f'{n}.txt')
               if _outside(line) > 1)
    # the same cut box, pushed 3 times its height further out
    c = np.array(cut.split()[:8], float)
    push = 3 * np.ptp(c[1::2]) * (1 if c[1::2].mean() > 128 else -1)
    far = c + np.tile([0., push], 4)
    edits = {
        names[0]: 'nan 10 20 10 20 20 10 20 small-vehicle 0\n',
        names[1]: '10 10 20 10 20 20 10 20 small-vehicle -1\n',
        names[2]: ' '.join(map(str, far)) + ' large-vehicle 2\n',
    }
    for name, line in edits.items():
        with open(ann / f'{name}.txt', 'a') as f:
            f.write(line)
    with open(ann / f'{names[3]}.txt') as f:
        text = f.read()
    (ann / f'{names[3]}.txt').write_text('imagesource:GoogleEarth\n' + text)
    img = cv2.imread(str(copy / 'images' / f'{names[4]}.png'))
    cv2.imwrite(str(copy / 'images' / f'{names[4]}.png'),
                img.astype(np.uint16) * 16)
    xml = dior_copy / XML / '00001.xml'
    xml.write_text(xml.read_text().replace('Expressway-Service-area',
                                           'golffield '))
    cfg = _det_cfg(tmp_path, copy, dior_copy)
    proc, report = run_tool(cfg, '--split', 'train', out=tmp_path / 'out')
    assert proc.returncode == 1
    assert findings(report) == {
        (f'{names[0]}.txt', 'non_finite_box'),
        (f'{names[1]}.txt', 'bad_difficulty'),
        (f'{names[2]}.txt', 'box_outside_image'),
        (f'{names[3]}.txt', 'dota_header'),
        (f'{names[4]}.png', 'image_format'),
        ('00001.xml', 'unknown_class'),
    }
    messages = {f['rule']: f['message']
                for d in report['datasets'].values() for f in d['errors']}
    assert 'uint16' in messages['image_format']
    assert '3 band(s)' in messages['image_format']
    assert 'surrounding whitespace' in messages['unknown_class']
    assert 'line 1' in messages['dota_header']
