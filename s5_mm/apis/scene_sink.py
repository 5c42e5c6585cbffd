"""Scene sinks: where the predictions of a scene's windows go.

Label sinks (segmentation) take the part of every window the window owns:
``begin_row(r, y0, y1)``, ``write(x0, y0, labels, confidence, valid)`` for
each window of the row, left to right, ``end_row(r)``, and ``close()``.
Box sinks (detection) keep each window row's shifted boxes until the merge:
``end_row(r, parts)``, ``parts()``, ``close(sample)``. ``done(r)`` is True
for a row a resumed run need not redo.

- :class:`ArrayLabelSink` / :class:`ArrayBoxSink`: in memory.
- :class:`RasterLabelSink`: a tiled, compressed GeoTIFF (band 1 labels,
  ``uint8`` with the palette as colour table; with ``confidence`` band 2 the
  predicted class's probability in percent, ``uint8`` 0-100), both with
  nodata value :data:`NODATA` = 255 wherever the input is nodata. Each window
  row is written window by window into a part file (block-aligned column
  slabs: every tile is written once, whole), the parts are assembled into the
  output when all rows are done (:class:`~.scene_progress.SceneProgress`).
  Tiles that are all nodata are left out of the files (GDAL's sparse tiles,
  read back as nodata), so a scene that is mostly nodata stays small.
- :class:`~s5_mm.apis.geo_export.GeoPackageBoxSink` (rotated boxes as
  polygons) lives with the polygon export.
"""
import warnings
from typing import List, Optional, Protocol

import numpy as np
import torch
from mmengine.structures import InstanceData

from .scene_progress import SceneProgress

NODATA = 255  # label and confidence nodata value of the written GeoTIFF


class LabelSink(Protocol):
    """What :func:`~s5_mm.apis.inference_segmentor_scene` writes to."""
    with_confidence: bool

    def done(self, row: int) -> bool: ...

    def begin_row(self, row: int, y0: int, y1: int) -> None: ...

    def write(self, x0: int, y0: int, labels: np.ndarray,
              confidence: Optional[np.ndarray],
              valid: Optional[np.ndarray]) -> None: ...

    def end_row(self, row: int) -> None: ...

    def close(self): ...


class BoxSink(Protocol):
    """What :func:`~s5_mm.apis.inference_detector_scene` writes to."""

    def done(self, row: int) -> bool: ...

    def end_row(self, row: int, parts: List[InstanceData]) -> None: ...

    def parts(self) -> List[InstanceData]: ...

    def close(self, sample) -> None: ...


def label_dtype(result) -> np.dtype:
    """``uint8`` labels for up to 255 classes, else ``int16``."""
    classes = result.seg_logits.data.shape[0] if 'seg_logits' in result \
        else 256
    return np.dtype(np.uint8 if classes <= 255 else np.int16)


def confidence_percent(prob: np.ndarray) -> np.ndarray:
    """Probability -> ``uint8`` percent (0-100, rounded)."""
    return np.rint(prob * 100).astype(np.uint8)


def _runs(flags: np.ndarray) -> List[tuple]:
    """``[(begin, end), ...]`` of the runs of True in a 1-D array."""
    edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


class ArrayLabelSink:
    """Labels (and confidences) of an HxW scene in memory; nodata pixels are
    255 (``uint8`` labels) or -1 (``int16``) and confidence 0.

    Args:
        height (int): scene height.
        width (int): scene width.
        confidence (bool): keep the float32 confidence too.
    """

    def __init__(self, height: int, width: int, confidence: bool = False):
        self.shape = (height, width)
        self.with_confidence = confidence
        self.labels = None
        self.confidence = np.zeros(self.shape, np.float32) if confidence \
            else None

    def done(self, row: int) -> bool:
        return False

    def begin_row(self, row: int, y0: int, y1: int) -> None:
        pass

    def _alloc(self, dtype) -> None:
        if self.labels is None:
            fill = NODATA if dtype == np.uint8 else -1
            self.labels = np.full(self.shape, fill, dtype)

    def write(self, x0: int, y0: int, labels: np.ndarray,
              confidence: Optional[np.ndarray] = None,
              valid: Optional[np.ndarray] = None) -> None:
        self._alloc(labels.dtype)
        h, w = labels.shape
        out = self.labels[y0:y0 + h, x0:x0 + w]
        if valid is None:
            out[...] = labels
        else:
            out[valid] = labels[valid]
        if confidence is not None:
            conf = self.confidence[y0:y0 + h, x0:x0 + w]
            conf[...] = confidence if valid is None else confidence * valid

    def end_row(self, row: int) -> None:
        pass

    def close(self):
        """``(labels, confidence or None)``."""
        self._alloc(np.dtype(np.uint8))
        return self.labels, self.confidence


class RasterLabelSink:
    """A GeoTIFF label map written window by window, resumable.

    Args:
        path (str): the output GeoTIFF.
        height (int): scene height.
        width (int): scene width.
        crs: the input's CRS (None: pixel coordinates).
        transform: the input's geotransform (``affine.Affine``).
        signature (dict): the run's description (resuming needs an equal one).
        palette (list, optional): RGB per class: band 1's colour table.
        confidence (bool): add the confidence band.
        block (int): tile side.
    """

    def __init__(self,
                 path: str,
                 height: int,
                 width: int,
                 crs,
                 transform,
                 signature: dict,
                 palette: Optional[list] = None,
                 confidence: bool = False,
                 block: int = 256):
        self.progress = SceneProgress(path, signature)
        self.height, self.width, self.block = height, width, block
        self.with_confidence = confidence
        self.palette = palette
        self.profile = dict(
            driver='GTiff', dtype='uint8', count=2 if confidence else 1,
            nodata=NODATA, crs=crs, transform=transform, tiled=True,
            blockxsize=block, blockysize=block, compress='deflate',
            interleave='band', sparse_ok=True, bigtiff='if_safer')
        self._row = None

    def done(self, row: int) -> bool:
        return self.progress.done(row)

    def _open(self, path: str, height: int, y0: int = 0):
        """A GeoTIFF of the profile for rows ``[y0, y0 + height)``."""
        import rasterio
        from rasterio.errors import NotGeoreferencedWarning
        from rasterio.transform import Affine
        transform = self.profile['transform'] or Affine.identity()
        with warnings.catch_warnings():  # no CRS: said once by the caller
            warnings.simplefilter('ignore', NotGeoreferencedWarning)
            return rasterio.open(path, 'w', **dict(
                self.profile, height=height, width=self.width,
                transform=transform @ Affine.translation(0, y0)))

    def begin_row(self, row: int, y0: int, y1: int) -> None:
        tmp = self.progress.tmp_path(row, 'tif')
        self._row = dict(row=row, y0=y0, y1=y1, tmp=tmp, flushed=0,
                         pending=[], ds=self._open(tmp, y1 - y0, y0))

    def write(self, x0: int, y0: int, labels: np.ndarray,
              confidence: Optional[np.ndarray] = None,
              valid: Optional[np.ndarray] = None) -> None:
        if labels.dtype != np.uint8:
            raise ValueError('the GeoTIFF label map is uint8 with nodata '
                             f'{NODATA}: a model with more than 255 classes '
                             'needs the in-memory API')
        bands = [labels]
        if self.with_confidence:
            bands.append(confidence_percent(confidence))
        data = np.stack(bands)
        if valid is not None:
            data[:, ~valid] = NODATA
        self._row['pending'].append((x0, data))
        x1 = x0 + labels.shape[1]
        self._flush(x1 // self.block * self.block)

    def _flush(self, upto: int) -> None:
        """Write the finished columns ``[flushed, upto)`` of the row."""
        from rasterio.windows import Window
        row = self._row
        start = row['flushed']
        # beyond the pending windows all is nodata: left sparse
        end = min(upto, max((px + d.shape[2] for px, d in row['pending']),
                            default=start))
        if end > start:
            slab = np.full((self.profile['count'], row['y1'] - row['y0'],
                            end - start), NODATA, np.uint8)
            for px, data in row['pending']:
                a, b = max(px, start), min(px + data.shape[2], end)
                if b > a:
                    slab[:, :, a - start:b - start] = data[:, :, a - px:b -
                                                           px]
            # block columns with data, written in runs
            bx = np.arange(0, end - start, self.block)
            full = np.logical_or.reduceat(
                (slab != NODATA).any((0, 1)), bx)
            for a, b in _runs(full):
                x0, x1 = bx[a], min(end - start, bx[b - 1] + self.block)
                row['ds'].write(slab[:, :, x0:x1], window=Window(
                    start + x0, 0, x1 - x0, slab.shape[1]))
        row['pending'] = [(px, d) for px, d in row['pending']
                          if px + d.shape[2] > upto]
        row['flushed'] = max(upto, start)

    def end_row(self, row: int) -> None:
        self._flush(self.width)
        self._row['ds'].close()
        self.progress.commit(row, self._row['tmp'],
                             f"_{self._row['y0']}_{self._row['y1']}")
        self._row = None

    def close(self) -> str:
        """Assemble the parts into the output; returns its path."""
        import rasterio
        from rasterio.errors import NotGeoreferencedWarning
        from rasterio.windows import Window
        parts = []
        for path in self.progress.files():
            y0, y1 = (int(v) for v in path.rsplit('.', 1)[0].split('_')[-2:])
            parts.append((y0, y1, path))
        tmp = self.progress.assembly_path('tif')
        with self._open(tmp, self.height) as dst:
            if self.palette is not None:
                dst.write_colormap(1, {
                    i: tuple(int(c) for c in rgb) + (255, )
                    for i, rgb in enumerate(self.palette)})
            dst.set_band_description(1, 'label')
            if self.with_confidence:
                dst.set_band_description(2, 'confidence (%)')
            step = self.block * max(1, 4096 // self.block)
            for sy in range(0, self.height, self.block):
                sh = min(self.block, self.height - sy)
                with warnings.catch_warnings():
                    warnings.simplefilter('ignore', NotGeoreferencedWarning)
                    srcs = [(y0, y1, rasterio.open(path))
                            for y0, y1, path in parts
                            if y0 < sy + sh and y1 > sy]
                for sx in range(0, self.width, step):
                    sw = min(step, self.width - sx)
                    chunk = np.full((self.profile['count'], sh, sw), NODATA,
                                    np.uint8)
                    for y0, y1, src in srcs:
                        a, b = max(y0, sy), min(y1, sy + sh)
                        chunk[:, a - sy:b - sy] = src.read(
                            window=Window(sx, a - y0, sw, b - a))
                    if (chunk != NODATA).any():  # else a sparse tile
                        dst.write(chunk, window=Window(sx, sy, sw, sh))
                for _, _, src in srcs:
                    src.close()
        self.progress.finish(tmp)
        return self.progress.out_file


class ArrayBoxSink:
    """The windows' boxes in memory."""

    def __init__(self):
        self._parts: List[InstanceData] = []

    def done(self, row: int) -> bool:
        return False

    def end_row(self, row: int, parts: List[InstanceData]) -> None:
        self._parts += parts

    def parts(self) -> List[InstanceData]:
        return self._parts

    def close(self, sample) -> None:
        pass


def empty_boxes() -> InstanceData:
    return InstanceData(bboxes=torch.zeros((0, 5)), scores=torch.zeros(0),
                        labels=torch.zeros(0, dtype=torch.long))


class FileBoxSink(ArrayBoxSink):
    """The windows' boxes saved row by row (``.npz`` parts), resumable;
    subclasses write the merged result in :meth:`close`.

    Args:
        path (str): the output file.
        signature (dict): the run's description.
    """

    def __init__(self, path: str, signature: dict):
        super().__init__()
        self.progress = SceneProgress(path, signature)

    def done(self, row: int) -> bool:
        return self.progress.done(row)

    def end_row(self, row: int, parts: List[InstanceData]) -> None:
        boxes = InstanceData.cat(parts) if parts else empty_boxes()
        tmp = self.progress.tmp_path(row, 'npz')
        with open(tmp, 'wb') as f:
            np.savez(f, **{k: v.cpu().numpy() for k, v in boxes.items()})
        self.progress.commit(row, tmp)

    def parts(self) -> List[InstanceData]:
        parts = []
        for path in self.progress.files():
            with np.load(path) as data:
                parts.append(InstanceData(**{
                    k: torch.from_numpy(data[k]) for k in data.files}))
        return parts
