"""One rule for bands and bit depth: how an image that is not 3-band uint8
reaches a model trained on 8-bit RGB.

Used by the image loader of training / test pipelines and by the scene tools
(GeoTIFF windows), so a 16-bit or multi-band raster gives the same model input
wherever it is read. The rule, in order:

1. **Bands.** The input array is in the file's band order (band 1 first, as
   GDAL counts). ``bands`` lists, 1-based, the file bands that feed the
   model's red, green and blue inputs, in that order (a GIS "RGB composite":
   ``(3, 2, 1)`` for a blue-green-red-NIR file). Without ``bands`` the file
   must have exactly ``num_channels`` bands, in R, G, B order.
2. **Values.** ``uint8`` bands are used as they are (unless ``scale`` is
   given). Any other dtype (16-bit, float) needs a ``scale``; there is no
   silent default:

   - ``scale=(MIN, MAX)`` (one pair for every band, or one pair per band):
     ``round((x - MIN) / (MAX - MIN) * 255)``, clipped to ``[0, 255]``;
   - ``scale='percentile'``: the same with per-band ``MIN, MAX`` = the
     ``percentiles`` (default 2 and 98) of the band's finite values; the
     scene tools compute them once per scene (from overviews or a sample of
     windows) and pass them as ``ranges``, so every window gets the same
     mapping.

   Non-finite values (NaN, inf) become 0.
3. **Channel order out.** The result is ``uint8`` ``(H, W, num_channels)`` in
   mmcv's BGR order (what ``mmcv.imread`` gives for an RGB file), so the
   configs' ``bgr_to_rgb=True`` data preprocessors see what they always see.

Anything the rule cannot satisfy is a ``ValueError`` naming the source, its
dtype and band count, and the option that fixes it.
"""
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple, Union

import numpy as np

ScaleType = Union[None, str, Sequence[float], Sequence[Sequence[float]]]


@dataclass(frozen=True)
class BandRule:
    """Band selection and value scaling (see the module docstring).

    Args:
        bands (tuple[int], optional): 1-based file bands feeding the model's
            R, G, B inputs. Defaults to None (the file's bands as they are).
        scale (str | tuple, optional): ``'percentile'``, ``(MIN, MAX)`` or
            one ``(MIN, MAX)`` per selected band. Defaults to None (only
            ``uint8`` accepted).
        percentiles (tuple[float]): low and high percentile of
            ``scale='percentile'``. Defaults to (2, 98).
        num_channels (int): channels the model takes. Defaults to 3.
    """
    bands: Optional[Tuple[int, ...]] = None
    scale: ScaleType = None
    percentiles: Tuple[float, float] = (2.0, 98.0)
    num_channels: int = 3

    def __post_init__(self):
        if self.bands is not None:
            object.__setattr__(self, 'bands', tuple(int(b)
                                                    for b in self.bands))
            if len(self.bands) != self.num_channels or \
                    min(self.bands) < 1:
                raise ValueError(
                    f'bands={self.bands}: give {self.num_channels} band '
                    'numbers, 1-based as GDAL counts (e.g. bands=(3, 2, 1))')
        if isinstance(self.scale, str) and self.scale != 'percentile':
            raise ValueError(f"scale={self.scale!r}: use 'percentile', "
                             '(MIN, MAX) or one (MIN, MAX) per band')
        low, high = self.percentiles
        if not 0 <= low < high <= 100:
            raise ValueError(f'percentiles={self.percentiles}: need '
                             '0 <= low < high <= 100')

    @property
    def is_identity(self) -> bool:
        """True when a 3-band uint8 RGB image passes unchanged."""
        return self.bands is None and self.scale is None


def select_bands(array: np.ndarray, rule: BandRule,
                 source: str = 'image') -> np.ndarray:
    """(H, W[, C]) in file band order -> (H, W, num_channels), R G B."""
    if array.ndim == 2:
        array = array[..., None]
    count = array.shape[2]
    if rule.bands is None:
        if count != rule.num_channels:
            raise ValueError(
                f'{source}: {count} band(s) of {array.dtype}, but the model '
                f'takes {rule.num_channels}: choose the bands that feed it '
                '(bands=(R, G, B), 1-based, e.g. bands=(1, 1, 1) for a '
                'single-band image)')
        return array
    if max(rule.bands) > count:
        raise ValueError(f'{source}: bands={rule.bands} but the file has '
                         f'{count} band(s) (1..{count})')
    return array[..., [b - 1 for b in rule.bands]]


def band_ranges(array: np.ndarray, percentiles: Tuple[float, float] = (
        2.0, 98.0), valid: Optional[np.ndarray] = None) -> np.ndarray:
    """Per-band ``(MIN, MAX)`` at ``percentiles`` of the finite values.

    Args:
        array (np.ndarray): (H, W, C) or (N, C) samples of the bands.
        percentiles (tuple[float]): low, high.
        valid (np.ndarray, optional): boolean mask of the same leading shape;
            False pixels (nodata) are left out.

    Returns:
        np.ndarray: (C, 2) float64. A band with no finite value gets (0, 1).
    """
    values = array.reshape(-1, array.shape[-1]).astype(np.float64)
    keep = np.ones(len(values), bool) if valid is None else \
        np.asarray(valid, bool).reshape(-1)
    ranges = np.zeros((values.shape[1], 2))
    for c in range(values.shape[1]):
        band = values[keep, c]
        band = band[np.isfinite(band)]
        if band.size == 0:
            ranges[c] = (0., 1.)
            continue
        ranges[c] = np.percentile(band, percentiles)
    return ranges


def _ranges_of(scale, channels: int, source: str) -> np.ndarray:
    ranges = np.asarray(scale, dtype=np.float64)
    if ranges.shape == (2, ):
        ranges = np.tile(ranges, (channels, 1))
    if ranges.shape != (channels, 2):
        raise ValueError(f'{source}: scale={scale!r} must be (MIN, MAX) or '
                         f'{channels} pairs (one per selected band)')
    if np.any(ranges[:, 1] <= ranges[:, 0]):
        raise ValueError(f'{source}: scale={scale!r} needs MAX > MIN for '
                         'every band')
    return ranges


def scale_to_uint8(array: np.ndarray, ranges: np.ndarray) -> np.ndarray:
    """Linear ``[MIN, MAX] -> [0, 255]`` per band, clipped, rounded."""
    x = array.astype(np.float64)
    lo, hi = ranges[:, 0], ranges[:, 1]
    out = (x - lo) / (hi - lo) * 255.
    out = np.nan_to_num(out, nan=0., posinf=0., neginf=0.)
    return np.rint(np.clip(out, 0, 255)).astype(np.uint8)


def apply_band_rule(array: np.ndarray,
                    rule: BandRule,
                    source: str = 'image',
                    ranges: Optional[np.ndarray] = None) -> np.ndarray:
    """Apply :class:`BandRule` to an array in file band order.

    Args:
        array (np.ndarray): (H, W) or (H, W, C), file band order.
        rule (BandRule): the rule.
        source (str): file name (or window) for error messages.
        ranges (np.ndarray, optional): (C, 2) per selected band, computed
            once for a scene (``scale='percentile'``); overrides the rule's
            own scale.

    Returns:
        np.ndarray: uint8 (H, W, num_channels), BGR order.
    """
    selected = select_bands(array, rule, source)
    channels = selected.shape[2]
    if ranges is not None:
        ranges = _ranges_of(ranges, channels, source)
    elif rule.scale == 'percentile':
        ranges = band_ranges(selected, rule.percentiles)
        ranges[:, 1] = np.maximum(ranges[:, 1], ranges[:, 0] + 1e-6)
    elif rule.scale is not None:
        ranges = _ranges_of(rule.scale, channels, source)
    elif selected.dtype != np.uint8:
        raise ValueError(
            f'{source}: {array.shape[2] if array.ndim == 3 else 1} band(s) '
            f'of {array.dtype}; the model takes 8-bit input and s5_mm never '
            "squeezes values silently: set scale=(MIN, MAX) or "
            "scale='percentile' (see s5_mm/datasets/band_rule.py)")
    out = selected if ranges is None else scale_to_uint8(selected, ranges)
    return np.ascontiguousarray(out[..., ::-1])
