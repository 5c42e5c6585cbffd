"""Draw predictions on the image they were made for, at the image's size.

Rotated boxes are drawn with OpenCV directly into the image array (polygon,
class name and score in the class's palette colour). This is exact and
cheap for scenes of any size: pixels away from a box keep their value (the
picture of a scene without detections above the threshold IS the scene),
polygons are clipped at the image border, and no figure canvas (4 bytes a
pixel plus resampling) is allocated. Segmentation masks are blended row
band by row band, as ``SegLocalVisualizer`` blends them.
"""
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np
from mmengine.logging import print_log
from mmengine.structures import BaseDataElement

_BAND = 1024  # rows blended at a time


def downscale_for_drawing(image: np.ndarray,
                          max_size: Optional[int]) -> Tuple[np.ndarray,
                                                            float]:
    """The image shrunk so its longer side is at most ``max_size``.

    Returns:
        tuple: ``(image, scale)``; the image itself and 1.0 when it fits.
    """
    h, w = image.shape[:2]
    if max_size is None or max(h, w) <= max_size:
        return image, 1.0
    scale = max_size / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    print_log(f'the {w}x{h} scene is drawn downscaled to {size[0]}x{size[1]}'
              f' (max draw size {max_size})', logger='current')
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), scale


def _colour(palette: Optional[Sequence], label: int) -> Tuple[int, int, int]:
    if not palette:
        rng = np.random.RandomState(label)
        return tuple(int(c) for c in rng.randint(0, 256, 3))
    r, g, b = palette[label % len(palette)]
    return int(b), int(g), int(r)  # BGR


def draw_rotated_boxes(image: np.ndarray,
                       sample: BaseDataElement,
                       metainfo: dict,
                       score_thr: float = 0.3,
                       scale: float = 1.0,
                       line_width: int = 2) -> np.ndarray:
    """Draw the rotated boxes of ``sample.pred_instances`` into ``image``.

    Args:
        image (np.ndarray): HxWx3 BGR image, drawn in place.
        sample (BaseDataElement): ``pred_instances`` with ``bboxes`` (N, 5)
            cx, cy, w, h, angle (radians), ``scores`` and ``labels``.
        metainfo (dict): ``classes`` and (optional) ``palette``.
        score_thr (float): boxes with a lower score are not drawn.
        scale (float): image size / size the boxes refer to.
        line_width (int): polygon line width in pixels.

    Returns:
        np.ndarray: ``image`` (BGR).
    """
    from mmrotate.structures.bbox import rbox2qbox
    pred = sample.pred_instances
    keep = pred.scores >= score_thr
    if not bool(keep.any()):
        return image
    polys = (rbox2qbox(pred.bboxes[keep].float()) * scale).cpu().numpy()
    classes = metainfo.get('classes', ())
    palette = metainfo.get('palette')
    for poly, label, score in zip(polys, pred.labels[keep].tolist(),
                                  pred.scores[keep].tolist()):
        colour = _colour(palette, label)
        pts = np.round(poly.reshape(4, 2)).astype(np.int32)
        cv2.polylines(image, [pts], True, colour, line_width, cv2.LINE_AA)
        name = classes[label] if label < len(classes) else str(label)
        x, y = pts[:, 0].min(), pts[:, 1].min()
        cv2.putText(image, f'{name} {score:.2f}', (int(x), int(max(y, 12))),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.4, colour, 1, cv2.LINE_AA)
    return image


def blend_segmentation(image: np.ndarray,
                       labels: np.ndarray,
                       palette: Sequence,
                       opacity: float = 0.5) -> np.ndarray:
    """Blend a label map over ``image`` in place:
    ``(1 - opacity) * image + opacity * palette[label]``, floored.

    Args:
        image (np.ndarray): HxWx3 BGR image, drawn in place.
        labels (np.ndarray): HxW class indices (255 = ignore, not painted).
        palette (Sequence): RGB colour per class.
        opacity (float): in (0, 1].
    """
    colours = np.zeros((256, 3), dtype=np.float32)
    colours[:len(palette)] = np.asarray(palette, dtype=np.float32)[:, ::-1]
    for y in range(0, image.shape[0], _BAND):
        band, lab = image[y:y + _BAND], labels[y:y + _BAND]
        painted = lab < len(palette)
        mixed = (1 - opacity) * band.astype(np.float32) + \
            opacity * colours[np.clip(lab, 0, 255)]
        band[painted] = mixed[painted].astype(np.uint8)
    return image
