"""Scene sources: where the windows of a large scene are read from.

A source has ``height``, ``width``, ``crs`` (None: pixel coordinates),
``transform`` (an ``affine.Affine`` from pixel ``(col, row)`` to map
coordinates; None for an array) and ``read(x, y, w, h)``, which returns the
window as ``uint8`` BGR ``(h, w, 3)`` (what ``mmcv.imread`` gives, what the
pipelines take) and its valid mask (``bool`` ``(h, w)``, False on nodata;
None when the source has no nodata).

- :class:`ArraySource`: a decoded scene in memory.
- :class:`RasterSource`: any raster GDAL reads (GeoTIFF, COG, JP2, VRT,
  PNG, ...), read window by window with rasterio; bands and bit depth go
  through :mod:`s5_mm.datasets.band_rule`. Non-``uint8`` rasters without an
  explicit ``scale`` get the per-band 2-98 % percentile stretch, computed
  once per scene from the overviews (when the file has them) or else from a
  grid of sampled windows, nodata left out.
"""
import contextlib
import os
import os.path as osp
import warnings
from typing import Optional, Protocol, Sequence, Tuple

import numpy as np
from mmengine.logging import print_log

from s5_mm.datasets.band_rule import (BandRule, ScaleType, apply_band_rule,
                                      band_ranges, select_bands)

GDAL_CACHE_BYTES = 128 * 2**20


def scene_env():
    """GDAL settings of a scene run: the block cache capped at
    :data:`GDAL_CACHE_BYTES` unless ``GDAL_CACHEMAX`` is set (GDAL's
    default, 5 % of RAM, fills with whole rows of tiles and so grows with
    the scene's width)."""
    if 'GDAL_CACHEMAX' in os.environ:
        return contextlib.nullcontext()
    try:
        import rasterio
    except ImportError:
        return contextlib.nullcontext()
    return rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_BYTES)


# formats without random access: decoded once, then windows are views
_SEQUENTIAL = ('PNG', 'JPEG', 'GIF', 'BMP', 'WEBP')


class SceneSource(Protocol):
    """What the scene inference reads from (see the module docstring)."""
    height: int
    width: int
    crs: object
    transform: object

    def read(self, x: int, y: int, w: int,
             h: int) -> Tuple[np.ndarray, Optional[np.ndarray]]: ...


class ArraySource:
    """A scene held in memory.

    Args:
        image (np.ndarray): HxWx3 BGR ``uint8``.
        valid (np.ndarray, optional): HxW bool, False on nodata.
    """
    crs = None
    transform = None

    def __init__(self, image: np.ndarray,
                 valid: Optional[np.ndarray] = None):
        self.image, self.valid = image, valid
        self.height, self.width = image.shape[:2]

    def read(self, x: int, y: int, w: int,
             h: int) -> Tuple[np.ndarray, Optional[np.ndarray]]:
        part = (slice(y, y + h), slice(x, x + w))
        return self.image[part], None if self.valid is None else \
            self.valid[part]


def _raster_error(path: str, what: str, error: Exception) -> OSError:
    return OSError(f'{path}: {what} ({error}). The file is unreadable, '
                   'truncated or not a raster GDAL reads: check it (e.g. '
                   '`gdalinfo -checksum`) or download it again')


class RasterSource:
    """A raster file read window by window with rasterio.

    Args:
        path (str): the raster (GeoTIFF, COG, JP2, VRT, PNG, ...).
        bands (Sequence[int], optional): 1-based file bands feeding the
            model's R, G, B inputs (``--bands 3 2 1``). Defaults to the file's
            three bands.
        scale (str | tuple, optional): ``(MIN, MAX)``, one pair per band, or
            ``'percentile'``. Defaults to None: ``uint8`` as it is, any other
            dtype the percentile stretch (said in one log line with the
            ranges, to reuse as ``--scale``).
        percentiles (tuple[float]): of the percentile stretch.
        sample_grid (int): without overviews, the stretch samples
            ``sample_grid ** 2`` windows of 256 px spread over the scene.
    """

    def __init__(self,
                 path: str,
                 bands: Optional[Sequence[int]] = None,
                 scale: ScaleType = None,
                 percentiles: Tuple[float, float] = (2.0, 98.0),
                 sample_grid: int = 8):
        import rasterio
        from rasterio.errors import NotGeoreferencedWarning, RasterioError
        from rasterio.enums import MaskFlags
        self.path = path
        if not osp.isfile(path):
            raise FileNotFoundError(f'scene file not found: {path}')
        try:
            with warnings.catch_warnings():
                warnings.simplefilter('ignore', NotGeoreferencedWarning)
                self._ds = rasterio.open(path)
        except RasterioError as e:
            raise _raster_error(path, 'could not be opened', e) from e
        ds = self._ds
        self.height, self.width = ds.height, ds.width
        self.crs = ds.crs
        self.transform = ds.transform
        if ds.dtypes[0] != 'uint8' and scale is None:
            scale = 'percentile'
        self.rule = BandRule(bands=bands, scale=scale,
                             percentiles=percentiles)
        # the band-count rule's own error, before anything is read
        select_bands(np.zeros((0, 0, ds.count), np.dtype(ds.dtypes[0])),
                     self.rule, path)
        self.indexes = list(self.rule.bands or range(1, ds.count + 1))
        self.dtype = np.dtype(ds.dtypes[self.indexes[0] - 1])
        self._read_rule = BandRule(scale=self.rule.scale,
                                   percentiles=percentiles)
        self.has_nodata = any(
            MaskFlags.all_valid not in ds.mask_flag_enums[i - 1]
            for i in self.indexes)
        self._cache = None
        if ds.driver in _SEQUENTIAL:
            self._cache = self._read_raw(0, 0, self.width, self.height)
        self.ranges = None
        if self.rule.scale == 'percentile':
            self.ranges = self._scene_ranges(sample_grid)
            print_log(
                f'{path}: {self.dtype} bands {self.indexes} stretched to '
                f'0-255 by the {percentiles[0]:g}-{percentiles[1]:g} % '
                'percentiles of the scene: --scale '
                + ' '.join(f'{lo:g} {hi:g}' for lo, hi in self.ranges) +
                ' (per band) gives the same mapping', logger='current')

    @property
    def in_memory(self) -> bool:
        """True for formats without random access (decoded once)."""
        return self._cache is not None

    def _read_raw(self, x: int, y: int, w: int, h: int,
                  out_shape: Optional[Tuple[int, int]] = None
                  ) -> Tuple[np.ndarray, Optional[np.ndarray]]:
        """(h, w, C) in the selected bands' order and the valid mask."""
        from rasterio.errors import RasterioError
        from rasterio.windows import Window
        if self._cache is not None:
            data, valid = self._cache
            part = (slice(y, y + h), slice(x, x + w))
            return data[part], None if valid is None else valid[part]
        window = Window(x, y, w, h)
        shape = None if out_shape is None else (len(self.indexes),
                                                *out_shape)
        try:
            data = self._ds.read(self.indexes, window=window,
                                 out_shape=shape)
            valid = None
            if self.has_nodata:
                valid = self._ds.read_masks(self.indexes, window=window,
                                            out_shape=shape).any(0)
        except RasterioError as e:
            raise _raster_error(
                self.path, f'window x={x} y={y} w={w} h={h} could not be '
                'read', e) from e
        return data.transpose(1, 2, 0), valid

    def _scene_ranges(self, grid: int) -> np.ndarray:
        """Per-band percentiles from the coarsest overview, or from a grid of
        windows."""
        overviews = self._ds.overviews(self.indexes[0])
        if self._cache is not None or overviews:
            factor = overviews[-1] if overviews and self._cache is None \
                else 1
            shape = (max(1, self.height // factor),
                     max(1, self.width // factor))
            samples = [self._read_raw(0, 0, self.width, self.height, shape)]
        else:
            side = min(256, self.height, self.width)
            ys = np.linspace(0, self.height - side, grid).astype(int)
            xs = np.linspace(0, self.width - side, grid).astype(int)
            samples = [self._read_raw(int(x), int(y), side, side)
                       for y in np.unique(ys) for x in np.unique(xs)]
        data = np.concatenate([d.reshape(-1, d.shape[-1])
                               for d, _ in samples])
        valid = None if samples[0][1] is None else np.concatenate(
            [v.reshape(-1) for _, v in samples])
        if valid is not None and not valid.any():
            raise ValueError(
                f'{self.path}: the sampled pixels are all nodata, so no '
                'percentile stretch can be computed: give --scale MIN MAX')
        ranges = band_ranges(data, self.rule.percentiles, valid)
        ranges[:, 1] = np.maximum(ranges[:, 1], ranges[:, 0] + 1e-6)
        return ranges

    def read(self, x: int, y: int, w: int,
             h: int) -> Tuple[np.ndarray, Optional[np.ndarray]]:
        data, valid = self._read_raw(x, y, w, h)
        if valid is not None and not valid.any():
            return data, valid  # skipped: not worth scaling
        image = apply_band_rule(data, self._read_rule,
                                f'{self.path} window x={x} y={y}',
                                self.ranges)
        return image, valid

    def close(self) -> None:
        self._ds.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
