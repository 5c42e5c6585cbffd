"""Rotated detections as georeferenced polygons (GeoPackage / GeoJSON).

A box ``(cx, cy, w, h, angle)`` in scene pixels (mmrotate's convention:
pixel ``(col, row)`` covers ``[col, col + 1) x [row, row + 1)``) becomes the
polygon of its four corners (mmrotate's ``rbox2qbox``), mapped to the
raster's CRS with its geotransform (``x = a*col + b*row + c``,
``y = d*col + e*row + f``). Without a CRS the polygons stay in pixel
coordinates (x right, y down). Each feature has ``class`` (name),
``label`` (index), ``score``, ``dataset`` and the pixel-space box
``px_cx, px_cy, px_w, px_h, px_angle`` (radians).
"""
from typing import Optional, Sequence

import numpy as np
import torch
from mmdet.structures import DetDataSample

from .scene_sink import FileBoxSink

DRIVERS = {'gpkg': 'GPKG', 'geojson': 'GeoJSON'}


def box_corners(bboxes, transform=None) -> np.ndarray:
    """(N, 4, 2) float64 corners of rotated boxes, in map coordinates when
    ``transform`` (``affine.Affine``) is given, else in pixels."""
    from mmrotate.structures.bbox import rbox2qbox
    boxes = torch.as_tensor(bboxes).detach().cpu().double().reshape(-1, 5)
    corners = rbox2qbox(boxes).numpy().reshape(-1, 4, 2)
    if transform is None:
        return corners
    a, b, c, d, e, f = tuple(transform)[:6]
    col, row = corners[..., 0], corners[..., 1]
    return np.stack([a * col + b * row + c, d * col + e * row + f], -1)


def write_polygons(path: str,
                   sample: DetDataSample,
                   classes: Sequence[str],
                   dataset: str,
                   crs=None,
                   transform=None,
                   driver: str = 'GPKG',
                   score_thr: float = 0.) -> int:
    """Write ``sample.pred_instances`` as polygons.

    Args:
        path (str): output file.
        sample (DetDataSample): boxes in scene pixels.
        classes (Sequence[str]): class names by label.
        dataset (str): the ``dataset`` field of every feature.
        crs: the raster's CRS (``rasterio.crs.CRS``); None = pixel
            coordinates.
        transform: the raster's geotransform; ignored without ``crs``.
        driver (str): ``'GPKG'`` or ``'GeoJSON'``.
        score_thr (float): boxes scoring lower are left out.

    Returns:
        int: the number of features written.
    """
    import shapely
    from pyogrio.raw import write
    pred = sample.pred_instances
    keep = (pred.scores >= score_thr).cpu()
    boxes = pred.bboxes.detach().cpu()[keep]
    scores = pred.scores.detach().cpu()[keep].double().numpy()
    labels = pred.labels.detach().cpu()[keep].numpy().astype(np.int64)
    corners = box_corners(boxes, transform if crs is not None else None)
    polygons = shapely.polygons(np.concatenate([corners, corners[:, :1]],
                                               axis=1))
    names = np.array([classes[i] if i < len(classes) else str(i)
                      for i in labels], dtype=object)
    px = boxes.double().numpy().reshape(-1, 5)
    fields = dict(
        {'class': names, 'label': labels, 'score': scores,
         'dataset': np.array([dataset] * len(labels), dtype=object)},
        **{f'px_{k}': px[:, i] for i, k in enumerate(
            ('cx', 'cy', 'w', 'h', 'angle'))})
    write(path, shapely.to_wkb(polygons), list(fields.values()),
          list(fields), layer='detections', driver=driver,
          geometry_type='Polygon', crs=None if crs is None else crs.to_wkt())
    return len(labels)


class GeoPackageBoxSink(FileBoxSink):
    """Box sink that writes the merged boxes as polygons (resumable).

    Args:
        path (str): the output (``.gpkg`` or ``.geojson``).
        signature (dict): the run's description.
        classes (Sequence[str]): class names by label.
        dataset (str): the dataset the model predicted for.
        crs: the raster's CRS; None = pixel coordinates.
        transform: the raster's geotransform.
        driver (str): ``'GPKG'`` or ``'GeoJSON'``.
        score_thr (float): boxes scoring lower are left out.
    """

    def __init__(self,
                 path: str,
                 signature: dict,
                 classes: Sequence[str],
                 dataset: str,
                 crs=None,
                 transform=None,
                 driver: str = 'GPKG',
                 score_thr: float = 0.):
        super().__init__(path, signature)
        self.options = dict(classes=classes, dataset=dataset, crs=crs,
                            transform=transform, driver=driver,
                            score_thr=score_thr)
        self.written: Optional[int] = None

    def close(self, sample: DetDataSample) -> None:
        ext = 'geojson' if self.options['driver'] == 'GeoJSON' else 'gpkg'
        tmp = self.progress.assembly_path(ext)
        self.written = write_polygons(tmp, sample, **self.options)
        self.progress.finish(tmp)
