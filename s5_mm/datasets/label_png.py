"""Write label maps and images as PNG atomically, labels verified.

Used by the dataset converters. A label is encoded as a plain
single-channel uint8 PNG, decoded again as mmseg's ``LoadAnnotations``
decodes it (``mmcv.imfrombytes(..., 'unchanged', backend='pillow')``) and
compared pixel for pixel before it is written (through a temporary file
and ``os.replace``, :func:`~s5_mm.selection.io.atomic_write_bytes`), so a
file under its final name is always complete and correct. Saving with
``Image.fromarray(label, mode='P')``, as mmseg's iSAID converter does,
renumbers the values under Pillow 13.
"""
import cv2
import mmcv
import numpy as np

from s5_mm.selection.io import atomic_write_bytes


def _encode_png(path: str, arr: np.ndarray) -> bytes:
    bgr = arr[..., ::-1] if arr.ndim == 3 else arr
    ok, buf = cv2.imencode('.png', np.ascontiguousarray(bgr))
    if not ok:
        raise OSError(f'could not encode {path} as PNG')
    return buf.tobytes()


def write_label_png(path: str, label: np.ndarray) -> None:
    """Write a (H, W) uint8 label map to ``path``, verified.

    Raises:
        ValueError: if ``label`` is not a 2-D uint8 array.
        RuntimeError: if the PNG decodes to anything but ``label``.
    """
    if label.ndim != 2 or label.dtype != np.uint8:
        raise ValueError(f'{path}: a label map must be 2-D uint8, got shape '
                         f'{label.shape} dtype {label.dtype}')
    data = _encode_png(path, label)
    back = mmcv.imfrombytes(data, flag='unchanged', backend='pillow')
    if back is None or back.shape != label.shape or \
            not np.array_equal(back, label):
        raise RuntimeError(
            f'{path}: the label PNG decodes differently from the label '
            f'written (values {np.unique(label).tolist()} -> '
            f'{None if back is None else np.unique(back).tolist()})')
    atomic_write_bytes(path, data)


def write_image_png(path: str, img: np.ndarray) -> None:
    """Write an RGB (H, W, 3) uint8 image to ``path`` atomically."""
    atomic_write_bytes(path, _encode_png(path, img))
