"""Make the image and maps C-contiguous in one fast copy."""
from typing import Sequence

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS

# dtypes cv2.flip takes
_CV2_DTYPES = {
    np.dtype(t)
    for t in (np.uint8, np.int8, np.uint16, np.int16, np.int32, np.float32,
              np.float64)
}
_FLIP_CODES = {(1, ): 1, (0, 1): -1}


def contiguous(array: np.ndarray) -> np.ndarray:
    """A C-contiguous array equal to ``array`` (itself if it is one).

    mmcv's ``imflip`` returns ``np.flip`` views; numpy copies a view with a
    negative stride over the pixels of a (H, W, C) image element by element,
    about 70 times slower than a row copy. The view is un-flipped (a view
    with positive strides), copied row by row and flipped back with
    ``cv2.flip``.

    Args:
        array (np.ndarray): Any array.

    Returns:
        np.ndarray: C-contiguous, same shape, dtype and values.
    """
    if array.flags.c_contiguous:
        return array
    # only a flip of the columns of (H, W, C) pixels is slow in numpy
    if (array.ndim != 3 or array.strides[1] >= 0 or array.strides[2] < 0
            or array.dtype not in _CV2_DTYPES):
        return np.ascontiguousarray(array)
    axes = (0, 1) if array.strides[0] < 0 else (1, )
    unflipped = np.ascontiguousarray(np.flip(array, axes))
    # cv2 drops a trailing channel axis of size 1
    return cv2.flip(unflipped, _FLIP_CODES[axes]).reshape(array.shape)


@TRANSFORMS.register_module()
class ContiguousArrays(BaseTransform):
    """Copy ``img`` and the maps in ``seg_fields`` to C-contiguous arrays.

    After mmseg's ``RandomCrop`` and mmcv's ``RandomFlip`` the image is a
    strided view (a crop of the resized image, flipped by ``np.flip``).
    Every later consumer that needs contiguous memory copies it again: each
    ``MultiBranch`` deep copy, OpenCV's Python bindings (``cvtColor``,
    ``filter2D``), ``PackSegInputs``, and numpy copies flipped views slowly
    (see :func:`contiguous`). One fast copy here makes all of these cheap;
    the values are unchanged, so the packed outputs are the same.

    Required keys: ``img``. Modified keys: ``img`` and ``seg_fields``' maps.

    Args:
        keys (Sequence[str]): Further keys to make contiguous where present.
            Defaults to ().
    """

    def __init__(self, keys: Sequence[str] = ()) -> None:
        self.keys = tuple(keys)

    def transform(self, results: dict) -> dict:
        """Make ``img``, the ``seg_fields`` maps and ``keys`` contiguous."""
        for key in ('img', *results.get('seg_fields', []), *self.keys):
            if isinstance(results.get(key), np.ndarray):
                results[key] = contiguous(results[key])
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(keys={self.keys})'
