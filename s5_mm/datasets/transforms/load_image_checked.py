"""mmcv's ``LoadImageFromFile`` that reads an image as it is stored.

mmcv decodes with ``flag='color'``: a 16-bit PNG is squeezed to 8 bits
(values x16 become 0..15), a 4-band raster loses a band, a grayscale image
is copied to three channels and a JPEG's EXIF orientation rotates the
pixels but not their label. :class:`LoadImageChecked` decodes unchanged
(native dtype, every band, EXIF orientation ignored: labels are stored
unrotated, so the pixels are used as stored) and then applies the config's
:class:`~s5_mm.datasets.band_rule.BandRule`, or stops with an error naming
the file, its dtype and its band count.
"""
import warnings
from typing import Optional, Union

import mmcv
import numpy as np
from mmcv.transforms import LoadImageFromFile
from mmengine import fileio
from mmengine.registry import TRANSFORMS  # root: found from every scope

from s5_mm.datasets.band_rule import BandRule, apply_band_rule


class ImageDecodeError(ValueError):
    """The file is not an image any reader decodes (truncated, corrupt)."""


#: first bytes of TIFF and BigTIFF files
TIFF_MAGIC = (b'II*\x00', b'MM\x00*', b'II+\x00', b'MM\x00+')


def _decode_gdal(img_bytes: bytes, source: str) -> np.ndarray:
    try:
        from rasterio.errors import NotGeoreferencedWarning
        from rasterio.io import MemoryFile
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', NotGeoreferencedWarning)
            with MemoryFile(img_bytes) as mem, mem.open() as raster:
                return np.moveaxis(raster.read(), 0, -1)
    except Exception as e:  # neither decoder reads it
        raise ImageDecodeError(f'cannot decode image {source} (truncated, '
                               'or not an image OpenCV or GDAL reads): '
                               f'{e}') from e


def decode_stored(img_bytes: bytes, source: str = 'image') -> np.ndarray:
    """Decode image bytes as stored, in the file's band order.

    TIFFs through GDAL (rasterio): every band, in file order (OpenCV reads
    a 4-band TIFF without colour tags as one band). Other files through
    OpenCV with ``IMREAD_UNCHANGED`` (native dtype, alpha kept, EXIF
    orientation ignored), GDAL for what OpenCV does not read.

    Args:
        img_bytes (bytes): the encoded file.
        source (str): the file name, for the error message.

    Returns:
        np.ndarray: (H, W) or (H, W, C), band 1 first.
    """
    if img_bytes[:4] in TIFF_MAGIC:
        return _decode_gdal(img_bytes, source)
    img = mmcv.imfrombytes(img_bytes, flag='unchanged', backend='cv2')
    if img is None:
        return _decode_gdal(img_bytes, source)
    if img.ndim == 3 and img.shape[2] in (3, 4):  # cv2: BGR(A)
        img = img[..., [2, 1, 0, 3][:img.shape[2]]]
    return img


def read_image_checked(img_bytes: bytes,
                       rule: BandRule,
                       source: str = 'image') -> np.ndarray:
    """Decode as stored and apply ``rule``: uint8 (H, W, C) BGR.

    The one reading shared by :class:`LoadImageChecked` and
    ``tools/analysis_tools/check_dataset.py``.
    """
    if rule.is_identity and img_bytes[:4] not in TIFF_MAGIC:
        img = mmcv.imfrombytes(img_bytes, flag='unchanged', backend='cv2')
        if img is not None and img.dtype == np.uint8 and img.ndim == 3 \
                and img.shape[2] == rule.num_channels == 3:
            return img  # the common case: 8-bit RGB, cv2 gives BGR
    return apply_band_rule(decode_stored(img_bytes, source), rule, source)


@TRANSFORMS.register_module()
class LoadImageChecked(LoadImageFromFile):
    """Load an image as stored, then make it the model's input by an
    explicit rule (see :mod:`s5_mm.datasets.band_rule`).

    - 3-band 8-bit images load as with ``LoadImageFromFile`` (BGR uint8);
    - a 16-bit or float image, or one with other than 3 bands, needs
      ``band_rule=dict(bands=..., scale=...)``; without it loading stops
      with a ``ValueError`` naming the file, its dtype and band count;
    - EXIF orientation is ignored: the pixels are used as stored, the way
      their labels are drawn (a square JPEG rotated by its tag would
      otherwise train against an unrotated label unnoticed).

    Args:
        band_rule (dict | BandRule, optional): ``BandRule`` arguments
            (``bands``, ``scale``, ``percentiles``, ``num_channels``).
            Defaults to None (only 3-band uint8 images).
        **kwargs: ``to_float32``, ``ignore_empty``, ``backend_args`` of
            mmcv's ``LoadImageFromFile``. ``color_type`` and
            ``imdecode_backend`` are fixed (unchanged, cv2 then GDAL).
    """

    def __init__(self,
                 band_rule: Union[None, dict, BandRule] = None,
                 **kwargs) -> None:
        for key in ('color_type', 'imdecode_backend'):
            if key in kwargs:
                raise ValueError(
                    f'LoadImageChecked: {key} is fixed (images are decoded '
                    'as stored); convert bands / bit depth with band_rule='
                    'dict(bands=..., scale=...) instead')
        super().__init__(color_type='unchanged', **kwargs)
        if isinstance(band_rule, BandRule):
            self.band_rule = band_rule
        else:
            self.band_rule = BandRule(**(band_rule or {}))

    def transform(self, results: dict) -> Optional[dict]:
        """Read ``results['img_path']`` by the band rule."""
        filename = results['img_path']
        try:
            img_bytes = fileio.get(filename, backend_args=self.backend_args)
            img = read_image_checked(img_bytes, self.band_rule, filename)
        except Exception:
            if self.ignore_empty:
                return None
            raise
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(band_rule={self.band_rule}, '
                f'to_float32={self.to_float32}, '
                f'ignore_empty={self.ignore_empty}, '
                f'backend_args={self.backend_args})')
