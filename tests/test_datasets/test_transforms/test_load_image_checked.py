"""LoadImageChecked: the shipped configs' image loader reads images as they
are stored. A 16-bit LoveDA crop (values x16) and a 4-band uint16 raster are
converted by the config's band rule or refused naming file, dtype and band
count; a square JPEG's EXIF orientation is ignored (its label is stored
unrotated). mmcv's LoadImageFromFile squeezed the first to 0..15 and
rotated the last."""
import glob

import cv2
import numpy as np
import pytest
import rasterio
from mmcv.transforms import Compose
from mmengine.config import Config
from mmengine.registry import init_default_scope
from PIL import Image

LOVEDA = 'configs/_base_/datasets/loveda.py'
CROP = 'tests/data/loveda/img_dir/0.png'


def _loader(band_rule=None, config=LOVEDA):
    """The first step of the shipped train pipeline, as configured."""
    import s5_mm  # noqa: F401
    init_default_scope('mmseg')
    step = dict(Config.fromfile(config).loveda_train_pipeline[0])
    if band_rule is not None:
        step['band_rule'] = band_rule
    return Compose([step])


def _load(path, band_rule=None):
    return _loader(band_rule)(dict(img_path=str(path)))['img']


@pytest.fixture(scope='module')
def crop():
    """A 96x96 piece of a LoveDA crop, BGR uint8 as stored."""
    return cv2.imread(CROP, cv2.IMREAD_COLOR)[200:296, 300:396].copy()


def test_16bit_png_needs_a_rule_and_loads_exactly_with_it(crop, tmp_path):
    path = tmp_path / 'x16.png'
    cv2.imwrite(str(path), crop.astype(np.uint16) * 16)
    assert cv2.imread(str(path), cv2.IMREAD_UNCHANGED).dtype == np.uint16
    with pytest.raises(ValueError) as err:
        _load(path)
    msg = str(err.value)
    assert str(path) in msg and '3 band(s) of uint16' in msg
    assert 'scale=' in msg
    # 255 * 16 -> 255: the 8-bit pixels come back exactly
    img = _load(path, dict(scale=(0, 255 * 16)))
    assert img.dtype == np.uint8 and img.shape == crop.shape
    assert np.array_equal(img, crop)


def test_4band_uint16_tiff_selects_and_scales_bands(crop, tmp_path):
    # file bands (GDAL order): blue, green, red, NIR, 12-bit values
    rgb = crop[..., ::-1].astype(np.uint16) * 16
    nir = (np.arange(96 * 96).reshape(96, 96) % 4096).astype(np.uint16)
    bands = [rgb[..., 2], rgb[..., 1], rgb[..., 0], nir]
    path = tmp_path / 'bgrn.tif'
    with rasterio.open(path, 'w', driver='GTiff', width=96, height=96,
                       count=4, dtype='uint16') as dst:
        dst.write(np.stack(bands))
    with pytest.raises(ValueError) as err:
        _load(path)
    assert str(path) in str(err.value)
    assert '4 band(s) of uint16' in str(err.value)
    img = _load(path, dict(bands=(3, 2, 1), scale=(0, 4095)))
    # BGR out: blue = file band 1 scaled, green = 2, red = 3
    expect = np.stack([
        np.rint(np.clip(b.astype(np.float64) / 4095 * 255, 0, 255))
        for b in bands[:3]], -1).astype(np.uint8)
    assert img.shape == (96, 96, 3) and np.array_equal(img, expect)
    assert np.abs(img.astype(int) - crop).max() <= 1  # 4080/4095 rounding
    # the NIR band as red: another image
    nir_img = _load(path, dict(bands=(4, 2, 1), scale=(0, 4095)))
    assert np.array_equal(nir_img[..., 2], np.rint(
        nir / 4095 * 255).astype(np.uint8))


def test_more_than_4_bands_are_read_through_gdal(tmp_path):
    data = np.arange(5 * 8 * 6, dtype=np.uint16).reshape(5, 8, 6) * 50
    path = tmp_path / 'five.tif'
    with rasterio.open(path, 'w', driver='GTiff', width=6, height=8,
                       count=5, dtype='uint16') as dst:
        dst.write(data)
    img = _load(path, dict(bands=(5, 3, 1), scale=(0, 65535)))
    expect = np.rint(data[[0, 2, 4]] / 65535 * 255).astype(np.uint8)
    assert np.array_equal(img, np.moveaxis(expect, 0, -1))


def test_exif_orientation_is_ignored_on_a_square_jpeg(tmp_path):
    path = tmp_path / 'rot180.jpg'
    exif = Image.Exif()
    exif[0x0112] = 3  # orientation: rotate 180
    Image.open(CROP).convert('RGB').save(path, quality=95,
                                         exif=exif.tobytes())
    assert Image.open(path).getexif()[0x0112] == 3
    stored = np.asarray(Image.open(path))[..., ::-1].astype(float)  # raw
    img = _load(path).astype(float)
    assert img.shape == stored.shape == (1024, 1024, 3)
    assert np.abs(img - stored).mean() < 0.5
    assert np.abs(img - stored[::-1, ::-1]).mean() > 10


def test_plain_rgb_loads_like_mmcv_and_grayscale_needs_bands(tmp_path):
    import mmcv
    img = _load(CROP)
    assert np.array_equal(img, mmcv.imread(CROP))
    gray = tmp_path / 'gray.png'
    cv2.imwrite(str(gray), img[..., 0])
    with pytest.raises(ValueError, match=r'gray.png: 1 band\(s\) of uint8'):
        _load(gray)
    assert np.array_equal(_load(gray, dict(bands=(1, 1, 1))),
                          np.repeat(img[..., :1], 3, -1))


def test_undecodable_file_is_named(tmp_path):
    bad = tmp_path / 'bad.png'
    bad.write_bytes(b'not an image')
    with pytest.raises(ValueError, match='cannot decode image .*bad.png'):
        _load(bad)


def test_every_shipped_dataset_pipeline_loads_with_it():
    """train / val / test pipelines of configs/_base_/datasets (their
    first step, and no other image loader in them)."""
    found = 0
    for path in sorted(glob.glob('configs/_base_/datasets/*.py')):
        cfg = Config.fromfile(path)
        for key, value in cfg.items():
            if not (key.endswith('pipeline') and isinstance(value, list)
                    and value and isinstance(value[0], dict)):
                continue
            types = [str(s.get('type', '')).split('.')[-1] for s in value]
            if not any(t.startswith('Load') for t in types):
                continue  # augmentation-only lists (fixmatch_views.py)
            assert types[0] == 'LoadImageChecked', (path, key, types)
            assert 'LoadImageFromFile' not in types, (path, key)
            found += 1
    assert found >= 18
