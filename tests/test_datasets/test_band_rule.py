"""The band / bit-depth rule, against hand computations on the real LoveDA
crop (read as RGB, stretched to 16 bits)."""
import cv2
import numpy as np
import pytest

from s5_mm.datasets.band_rule import (BandRule, apply_band_rule, band_ranges,
                                      scale_to_uint8)

CROP = 'tests/data/loveda/img_dir/0.png'


@pytest.fixture(scope='module')
def rgb():
    return cv2.imread(CROP, cv2.IMREAD_COLOR)[..., ::-1].copy()  # file order


def test_uint8_rgb_passes_unchanged_in_mmcv_order(rgb):
    out = apply_band_rule(rgb, BandRule())
    np.testing.assert_array_equal(out, cv2.imread(CROP, cv2.IMREAD_COLOR))


def test_16bit_with_explicit_scale_gives_the_8bit_values_back(rgb):
    # x * 257 maps [0, 255] onto [0, 65535]; scale (0, 65535) inverts it
    wide = rgb.astype(np.uint16) * 257
    out = apply_band_rule(wide, BandRule(scale=(0, 65535)))
    np.testing.assert_array_equal(out, rgb[..., ::-1])
    # x16 (12-bit sensor values), scale (0, 4080): same 8-bit values
    out = apply_band_rule(rgb.astype(np.uint16) * 16,
                          BandRule(scale=(0, 4080)))
    np.testing.assert_array_equal(out, rgb[..., ::-1])


def test_16bit_without_a_scale_is_an_error_naming_the_file(rgb):
    with pytest.raises(ValueError, match=r'a\.tif: 3 band\(s\) of uint16.*'
                       r'scale=\(MIN, MAX\)'):
        apply_band_rule(rgb.astype(np.uint16) * 16, BandRule(), 'a.tif')


def test_band_selection_from_a_four_band_file(rgb):
    # a blue-green-red-NIR file: bands (3, 2, 1) are R, G, B
    bgrn = np.concatenate([rgb[..., ::-1], rgb[..., :1] // 2], axis=2)
    out = apply_band_rule(bgrn.astype(np.uint16) * 16,
                          BandRule(bands=(3, 2, 1), scale=(0, 4080)))
    np.testing.assert_array_equal(out, rgb[..., ::-1])
    with pytest.raises(ValueError, match='4 band.*bands=\\(R, G, B\\)'):
        apply_band_rule(bgrn, BandRule(), 'scene.tif')
    with pytest.raises(ValueError, match=r'bands=\(5, 2, 1\).*4 band'):
        apply_band_rule(bgrn, BandRule(bands=(5, 2, 1)), 'scene.tif')


def test_percentile_stretch_equals_a_hand_computation(rgb):
    wide = rgb.astype(np.float32) * 3.5 + 100
    out = apply_band_rule(wide, BandRule(scale='percentile',
                                         percentiles=(2, 98)))
    for c in range(3):
        lo, hi = np.percentile(wide[..., c].astype(np.float64), [2, 98])
        ref = np.clip(np.rint((wide[..., c] - lo) / (hi - lo) * 255), 0, 255)
        np.testing.assert_array_equal(out[..., 2 - c], ref.astype(np.uint8))


def test_ranges_skip_nodata_and_nan():
    band = np.array([[0, 0, 10, 20, np.nan, 30]], np.float32)[..., None]
    valid = band[..., 0] != 0
    r = band_ranges(band, (0, 100), valid)
    np.testing.assert_array_equal(r, [[10, 30]])
    out = scale_to_uint8(band, r)
    assert out[0, :, 0].tolist() == [0, 0, 0, 128, 0, 255]


def test_bad_options_are_named():
    with pytest.raises(ValueError, match='give 3 band numbers'):
        BandRule(bands=(1, 2))
    with pytest.raises(ValueError, match="scale='minmax'"):
        BandRule(scale='minmax')
    with pytest.raises(ValueError, match='MAX > MIN'):
        apply_band_rule(np.zeros((2, 2, 3), np.uint16),
                        BandRule(scale=(5, 5)))
