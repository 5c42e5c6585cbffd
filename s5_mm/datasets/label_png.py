"""Write label maps and images as PNG atomically, labels verified.

Used by the dataset converters. A label is encoded as a plain
single-channel uint8 PNG, decoded again as mmseg's ``LoadAnnotations``
decodes it (``mmcv.imfrombytes(..., 'unchanged', backend='pillow')``) and
compared pixel for pixel before it gets its final name (write to
``PATH.tmp``, then ``os.replace``), so a file under its final name is always
complete and correct. Saving with ``Image.fromarray(label, mode='P')``, as
mmseg's iSAID converter does, renumbers the values under Pillow 13.
"""
import os

import cv2
import mmcv
import numpy as np


def _write_tmp(path: str, arr: np.ndarray) -> bytes:
    bgr = arr[..., ::-1] if arr.ndim == 3 else arr
    ok, buf = cv2.imencode('.png', np.ascontiguousarray(bgr))
    if not ok:
        raise OSError(f'could not encode {path} as PNG')
    data = buf.tobytes()
    with open(path + '.tmp', 'wb') as f:
        f.write(data)
    return data


def write_label_png(path: str, label: np.ndarray) -> None:
    """Write a (H, W) uint8 label map to ``path``, verified.

    Raises:
        ValueError: if ``label`` is not a 2-D uint8 array.
        RuntimeError: if the PNG decodes to anything but ``label``.
    """
    if label.ndim != 2 or label.dtype != np.uint8:
        raise ValueError(f'{path}: a label map must be 2-D uint8, got shape '
                         f'{label.shape} dtype {label.dtype}')
    data = _write_tmp(path, label)
    back = mmcv.imfrombytes(data, flag='unchanged', backend='pillow')
    if back is None or back.shape != label.shape or \
            not np.array_equal(back, label):
        os.remove(path + '.tmp')
        raise RuntimeError(
            f'{path}: the label PNG decodes differently from the label '
            f'written (values {np.unique(label).tolist()} -> '
            f'{None if back is None else np.unique(back).tolist()})')
    os.replace(path + '.tmp', path)


def write_image_png(path: str, img: np.ndarray) -> None:
    """Write an RGB (H, W, 3) uint8 image to ``path`` atomically."""
    _write_tmp(path, img)
    os.replace(path + '.tmp', path)


def write_bytes(path: str, data: bytes) -> None:
    """Write raw bytes (e.g. a PNG copied as it is) atomically."""
    with open(path + '.tmp', 'wb') as f:
        f.write(data)
    os.replace(path + '.tmp', path)
