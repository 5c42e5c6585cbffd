"""Scene sinks without a model: the GeoTIFF label sink against a label map
stitched here, sparse nodata tiles, and the progress record's checks."""
import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from s5_mm.apis import NODATA, RasterLabelSink, scene_windows


def test_raster_label_sink_matches_stitching(tmp_path):
    """Random window labels (some windows skipped, some pixels nodata)
    written window by window equal the same labels stitched here; the
    output is tiled, has the CRS / transform and stays small."""
    h, w, patch, overlap = 700, 1500, 300, 60
    rng = np.random.RandomState(0)
    expected = np.full((h, w), NODATA, np.uint8)
    geo = from_origin(600000, 5000000, 2.0, 2.0)
    sink = RasterLabelSink(str(tmp_path / 'o.tif'), h, w, 'EPSG:32633', geo,
                           {'run': 1}, palette=[[1, 2, 3], [4, 5, 6]],
                           block=64)
    rows = scene_windows(h, w, patch, overlap)
    for r, row in enumerate(rows):
        sink.begin_row(r, row[0].own[1], row[0].own[3])
        for i, win in enumerate(row):
            if (r + i) % 3 == 2:
                continue  # an all-nodata window: never written
            x0, y0, x1, y1 = win.own
            labels = rng.randint(0, 2, (y1 - y0, x1 - x0)).astype(np.uint8)
            valid = rng.rand(*labels.shape) > 0.1
            sink.write(x0, y0, labels, None, valid)
            expected[y0:y1, x0:x1][valid] = labels[valid]
        sink.end_row(r)
    out = sink.close()
    with rasterio.open(out) as ds:
        np.testing.assert_array_equal(ds.read(1), expected)
        assert ds.transform == geo and ds.crs.to_epsg() == 32633
        assert ds.block_shapes == [(64, 64)] and ds.nodata == NODATA
        assert ds.colormap(1)[1] == (4, 5, 6, 255)
    assert not (tmp_path / 'o.tif.parts').exists()


def test_sparse_nodata_and_progress_record(tmp_path):
    """A row with one window of data: the rest of the row is never
    written (sparse, read back as nodata). A second run with another
    signature is refused, naming the folder."""
    path = str(tmp_path / 's.tif')
    sink = RasterLabelSink(path, 256, 64 * 200, None, None, {'a': 1},
                           block=64)
    sink.begin_row(0, 0, 256)
    sink.write(0, 0, np.ones((256, 100), np.uint8), None, None)
    sink.end_row(0)
    with pytest.raises(ValueError, match=r's.tif.parts.*differing: a'):
        RasterLabelSink(path, 256, 64 * 200, None, None, {'a': 2})
    sink.close()
    with rasterio.open(path) as ds:
        labels = ds.read(1)
    assert (labels[:, :100] == 1).all() and (labels[:, 100:] == 255).all()
    # 4 x 200 tiles, 8 with data: the tile index is ~6.4 kB (offset and
    # size, 4 bytes each); 800 written tiles of deflated nodata would add
    # >= 800 x 20 bytes
    import os
    assert os.path.getsize(path) < 9000
