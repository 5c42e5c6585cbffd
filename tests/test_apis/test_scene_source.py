"""s5_mm.apis.scene_source: windows of an array and of a raster file, in
BGR uint8 with their valid mask; uint16 stretched by the scene's
percentiles (computed here with numpy)."""
import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from s5_mm.apis.scene_source import ArraySource, RasterSource, scene_env


def write_tif(path, bands_first, nodata=None, crs='EPSG:32650'):
    count, h, w = bands_first.shape
    with rasterio.open(path, 'w', driver='GTiff', height=h, width=w,
                       count=count, dtype=bands_first.dtype, crs=crs,
                       transform=from_origin(0, 100, 1, 1),
                       nodata=nodata) as ds:
        ds.write(bands_first)
    return str(path)


def test_array_source_windows():
    image = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    valid = np.arange(20).reshape(4, 5) % 2 == 0
    src = ArraySource(image, valid)
    assert (src.height, src.width, src.crs, src.transform) == (4, 5, None,
                                                               None)
    part, mask = src.read(1, 2, 3, 2)
    np.testing.assert_array_equal(part, image[2:4, 1:4])
    np.testing.assert_array_equal(mask, valid[2:4, 1:4])
    assert ArraySource(image).read(0, 0, 2, 2)[1] is None


def test_uint8_raster_windows_are_bgr(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 255, (3, 20, 30), np.uint8)
    with RasterSource(write_tif(tmp_path / 'a.tif', rgb)) as src:
        assert (src.height, src.width) == (20, 30)
        assert src.crs.to_string() == 'EPSG:32650' and src.ranges is None
        window, valid = src.read(4, 5, 10, 6)
    assert valid is None and window.dtype == np.uint8
    np.testing.assert_array_equal(
        window, rgb[::-1, 5:11, 4:14].transpose(1, 2, 0))


def test_uint16_is_stretched_by_the_scene_percentiles(tmp_path):
    rng = np.random.default_rng(1)
    data = rng.integers(100, 4000, (3, 40, 40)).astype(np.uint16)
    data[:, :4, :4] = 0  # nodata
    path = write_tif(tmp_path / 'b.tif', data, nodata=0)
    with scene_env(), RasterSource(path, bands=[3, 2, 1],
                                   sample_grid=1) as src:
        window, valid = src.read(0, 0, 40, 40)
        ranges = src.ranges
    assert not valid[:4, :4].any() and valid[4:].all()
    # one 40 px sample (grid 1, side min(256, 40)): every valid pixel
    bands = data[[2, 1, 0]].reshape(3, -1)[:, (data[0] > 0).ravel()]
    expected = np.percentile(bands, [2, 98], axis=1).T
    np.testing.assert_allclose(ranges, expected, rtol=1e-6)
    lo, hi = expected[0]
    x = data[2, 20, 20].astype(float)
    # band 3 is the model's R: BGR channel 2
    assert abs(int(window[20, 20, 2]) -
               np.clip((x - lo) / (hi - lo) * 255, 0, 255)) <= 1


def test_missing_and_unreadable_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='scene file not found'):
        RasterSource(str(tmp_path / 'none.tif'))
    (tmp_path / 'text.tif').write_text('not a raster')
    with pytest.raises(OSError, match='text.tif: could not be opened'):
        RasterSource(str(tmp_path / 'text.tif'))
