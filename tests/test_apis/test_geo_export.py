"""s5_mm.apis.geo_export: rotated boxes as polygons, the corners computed
here, mapped by the geotransform, read back with pyogrio."""
import math

import numpy as np
import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.structures import InstanceData
from pyogrio.raw import read as read_vector
from rasterio.crs import CRS
from rasterio.transform import from_origin

from s5_mm.apis.geo_export import box_corners, write_polygons


def corners(cx, cy, w, h, a):
    """The 4 corners of a box, written out: (+w/2, +h/2) rotated by a."""
    out = []
    for dx, dy in ((-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2),
                   (-w / 2, h / 2)):
        out.append((cx + dx * math.cos(a) - dy * math.sin(a),
                    cy + dx * math.sin(a) + dy * math.cos(a)))
    return np.array(out)


def test_box_corners_in_pixels_and_map_coordinates():
    boxes = [[10., 20., 8., 4., 0.], [50., 40., 6., 2., math.pi / 6]]
    px = box_corners(boxes)
    assert px.shape == (2, 4, 2) and px.dtype == np.float64
    for got, box in zip(px, boxes):
        # the same corners, in cyclic order (either way round, any start)
        ref = corners(*box)
        k = int(np.argmin(((ref - got[0])**2).sum(1)))
        ways = [np.roll(ref, -k, 0), np.roll(ref[::-1], -(3 - k), 0)]
        # (a list of boxes becomes a float32 tensor first)
        assert min(np.abs(got - w).max() for w in ways) < 1e-6, (got, ref)
    geo = from_origin(300000.0, 5000000.0, 0.5, 0.5)
    mapped = box_corners(boxes, geo)
    np.testing.assert_allclose(mapped[..., 0], 300000.0 + 0.5 * px[..., 0])
    np.testing.assert_allclose(mapped[..., 1], 5000000.0 - 0.5 * px[..., 1])


@pytest.mark.parametrize('driver,ext', [('GPKG', 'gpkg'),
                                        ('GeoJSON', 'geojson')])
def test_write_polygons_fields_and_crs(tmp_path, driver, ext):
    import shapely
    sample = DetDataSample()
    sample.pred_instances = InstanceData(
        bboxes=torch.tensor([[10., 20., 8., 4., 0.], [5., 5., 2., 2., 0.],
                             [30., 30., 4., 4., 0.3]]),
        scores=torch.tensor([0.9, 0.1, 0.5]), labels=torch.tensor([1, 0, 5]))
    path = str(tmp_path / f'd.{ext}')
    geo = from_origin(1000.0, 2000.0, 2.0, 2.0)
    n = write_polygons(path, sample, ('plane', 'ship'), 'dota',
                       crs=CRS.from_epsg(32650), transform=geo,
                       driver=driver, score_thr=0.3)
    assert n == 2
    meta, _, geometry, fields = read_vector(path)
    assert meta['crs'] == 'EPSG:32650'
    field = dict(zip(meta['fields'], fields))
    assert list(field['class']) == ['ship', '5']  # label 5 has no name
    assert list(field['label']) == [1, 5]
    np.testing.assert_allclose(field['score'], [0.9, 0.5], rtol=1e-6)
    assert list(field['dataset']) == ['dota', 'dota']
    np.testing.assert_allclose(field['px_angle'], [0., 0.3], rtol=1e-6)
    first = np.asarray(shapely.from_wkb(geometry[0]).exterior.coords)
    # the 8 x 4 box at (10, 20): x 6..14, y 18..22 px -> map
    assert sorted(set(first[:, 0])) == [1012.0, 1028.0]
    assert sorted(set(first[:, 1])) == [1956.0, 1964.0]
    # without a CRS: pixel coordinates
    write_polygons(str(tmp_path / f'p.{ext}'), sample, ('plane', 'ship'),
                   'dota', transform=geo, driver=driver)
    meta, _, geometry, _ = read_vector(str(tmp_path / f'p.{ext}'))
    assert len(geometry) == 3
    if driver == 'GPKG':  # (GeoJSON reads back as WGS 84, its only CRS)
        assert meta['crs'] is None
    first = np.asarray(shapely.from_wkb(geometry[0]).exterior.coords)
    assert sorted(set(first[:, 0])) == [6.0, 14.0]
