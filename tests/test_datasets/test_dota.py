"""StrictDOTAv2Dataset: mmrotate's DOTA-v2 loader with checked label lines."""
import os.path as osp
import shutil

import pytest
from mmrotate.registry import DATASETS

LINE = '251.0 457.0 260.0 466.0 235.0 493.0 226.0 485.0 ship 0\n'


def _build(ann_dir, img_dir):
    return DATASETS.build(
        dict(type='StrictDOTAv2Dataset', ann_file=str(ann_dir),
             data_prefix=dict(img_path=str(img_dir)), pipeline=[]))


def test_bundled_patches_load_like_mmrotate(moe_cfg, data_root):
    root = osp.join(data_root, 'dota_split')
    ours = _build(osp.join(root, 'labelTxt'), osp.join(root, 'images'))
    ref = DATASETS.build(
        dict(type='DOTAv2Dataset', ann_file=osp.join(root, 'labelTxt'),
             data_prefix=dict(img_path=osp.join(root, 'images')),
             pipeline=[]))
    assert len(ours) == len(ref) == 4
    counts = {}
    for i in range(len(ours)):
        info = ours.get_data_info(i)
        assert info == ref.get_data_info(i)
        counts[info['img_id']] = len(info['instances'])
    assert counts == {'P0706__1__0___0': 81, 'P0706__1__0___256': 138,
                      'P0706__1__0___512': 136, 'P1088__1__1024___768': 0}


@pytest.mark.parametrize('bad, match', [
    ('251.0 457.0 260.0 466.0 235.0 493.0 226.0 ship 0\n',
     'expected 10 fields'),
    ('251.0 457.0 260.0 466.0 235.0 abc 226.0 485.0 ship 0\n',
     'must be numbers'),
    ('251.0 457.0 260.0 466.0 235.0 493.0 226.0 485.0 ship x\n',
     'difficulty an integer'),
    ('251.0 457.0 260.0 466.0 235.0 493.0 226.0 485.0 boat 0\n',
     "unknown class 'boat'"),
    ('gsd:0.146\n', 'raw DOTA header line'),
    ('251.0 457.0 260.0 nan 235.0 493.0 226.0 485.0 ship 0\n',
     r'non-finite coordinate \(nan / inf\)'),
    ('251.0 457.0 260.0 466.0 inf 493.0 226.0 485.0 ship 0\n',
     'non-finite coordinate'),
    ('251.0 457.0 260.0 466.0 235.0 493.0 226.0 485.0 ship -1\n',
     'negative difficulty -1'),
])
def test_malformed_line_names_file_and_line(moe_cfg, tmp_path, bad, match):
    ann, img = tmp_path / 'annfiles', tmp_path / 'images'
    ann.mkdir()
    img.mkdir()
    (ann / 'good.txt').write_text(LINE * 2)
    (ann / 'P0001__1__0___0.txt').write_text(LINE * 2 + bad + LINE)
    with pytest.raises(ValueError, match=match) as err:
        _build(ann, img)
    msg = str(err.value)
    assert str(ann / 'P0001__1__0___0.txt') + ', line 3' in msg


def test_empty_label_file_is_kept(moe_cfg, tmp_path, data_root):
    src = osp.join(data_root, 'dota_split')
    ann, img = tmp_path / 'annfiles', tmp_path / 'images'
    ann.mkdir()
    img.mkdir()
    name = 'P1088__1__1024___768'
    shutil.copy(osp.join(src, 'labelTxt', name + '.txt'), ann)
    dataset = _build(ann, img)
    assert len(dataset) == 1
    assert dataset.get_data_info(0)['instances'] == []


def test_mmrotate_split_tool_output_loads(moe_cfg, tmp_path, data_root):
    """The documented workflow: raw DOTA labels (with imagesource/gsd
    header lines) are refused with a pointer to the split tool; the tool's
    patches load."""
    import subprocess
    import sys

    import mmrotate
    tool = osp.join(osp.dirname(mmrotate.__file__), '.mim', 'tools', 'data',
                    'dota', 'split', 'img_split.py')
    raw = tmp_path / 'raw'
    (raw / 'images').mkdir(parents=True)
    (raw / 'labelTxt').mkdir()
    src = osp.join(data_root, 'dota_split')
    shutil.copy(osp.join(src, 'images', 'P0706__1__0___256.png'),
                raw / 'images' / 'P0706.png')
    with open(osp.join(src, 'labelTxt', 'P0706__1__0___256.txt')) as f:
        labels = f.read()
    (raw / 'labelTxt' / 'P0706.txt').write_text(
        'imagesource:GoogleEarth\ngsd:0.146\n' + labels)
    with pytest.raises(ValueError, match=r'P0706.txt, line 1: .*split'):
        _build(raw / 'labelTxt', raw / 'images')
    out = tmp_path / 'split'
    subprocess.run(
        [sys.executable, tool, '--img-dirs', str(raw / 'images'),
         '--ann-dirs', str(raw / 'labelTxt'), '--sizes', '256', '--gaps',
         '56', '--nproc', '1', '--save-dir', str(out)],
        check=True, capture_output=True, timeout=300)
    dataset = _build(out / 'annfiles', out / 'images')
    assert len(dataset) == 9  # windows at 0, 200, 256 in x and y
    total = sum(len(dataset.get_data_info(i)['instances'])
                for i in range(len(dataset)))
    assert total >= labels.count('\n')  # objects on window borders repeat
    # every object line the tool wrote (8 corners, class, difficulty) is
    # loaded, patch by patch
    written = {}
    for ann in (out / 'annfiles').iterdir():
        rows = [line.split() for line in ann.read_text().splitlines()]
        assert all(len(r) == 10 for r in rows if r), ann
        written[ann.stem] = sum(1 for r in rows if r)
    loaded = {dataset.get_data_info(i)['img_id']:
              len(dataset.get_data_info(i)['instances'])
              for i in range(len(dataset))}
    assert loaded == written
    assert total == sum(written.values())


def test_raw_scene_header_is_refused_and_its_split_loads(moe_cfg, tmp_path):
    """The real raw scene P1888 starts with imagesource: / gsd: lines:
    refused at line 1 with a pointer to the split tool (the rule of
    docs/datasets.md); mmrotate's tool output of it loads, truncated
    boxes (difficulty 2) included."""
    from dota_split_utils import RAW, split_p1888
    with pytest.raises(ValueError) as err:
        _build(osp.join(RAW, 'labelTxt'), osp.join(RAW, 'images'))
    msg = str(err.value)
    assert "P1888.txt, line 1: 'imagesource:GoogleEarth'" in msg
    assert 'raw DOTA header line' in msg and 'img_split.py' in msg
    out = split_p1888(tmp_path / 'split', size=256, gap=64)
    dataset = _build(osp.join(out, 'annfiles'), osp.join(out, 'images'))
    assert len(dataset) == 12  # 4 x 3 windows over 712 x 557
    lines = [line.split() for p in sorted((tmp_path / 'split' / 'annfiles')
                                          .iterdir()) for line in open(p)]
    assert sum(len(dataset.get_data_info(k)['instances'])
               for k in range(len(dataset))) == len(lines)
    assert sum(f[9] == '2' for f in lines) == 13  # cut at a patch border


def test_images_without_labels_warn_with_count_or_stop(moe_cfg, tmp_path,
                                                       data_root):
    from mmengine.logging import MMLogger
    src = osp.join(data_root, 'dota_split')
    ann, img = tmp_path / 'annfiles', tmp_path / 'images'
    shutil.copytree(osp.join(src, 'labelTxt'), ann)
    shutil.copytree(osp.join(src, 'images'), img)
    for name in ('P0706__1__0___0', 'P0706__1__0___256'):
        (ann / f'{name}.txt').unlink()
    logger = MMLogger.get_current_instance()
    records = []
    handler = type('H', (__import__('logging').Handler, ), dict(
        emit=lambda self, r: records.append(r.getMessage())))()
    logger.addHandler(handler)
    try:
        dataset = _build(ann, img)
    finally:
        logger.removeHandler(handler)
    assert len(dataset) == 2
    said = [r for r in records if 'have no label file' in r]
    assert len(said) == 1
    assert said[0].startswith(f'2 image(s) in {img}')
    assert str(img / 'P0706__1__0___0.png') in said[0]
    assert str(img / 'P0706__1__0___256.png') in said[0]
    with pytest.raises(ValueError, match='2 image.s. in .* have no label'):
        DATASETS.build(dict(type='StrictDOTAv2Dataset', ann_file=str(ann),
                            data_prefix=dict(img_path=str(img)),
                            images_without_labels='error', pipeline=[]))
