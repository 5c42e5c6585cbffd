"""Rules a semantic-segmentation label map must follow.

Shared by :class:`~s5_mm.datasets.transforms.LoadAnnotationsChecked` (which
raises on the first problem, at load time) and
``tools/analysis_tools/check_dataset.py`` (which lists them all). Each rule
costs one vectorised comparison on the label already in memory.
"""
from typing import List, NamedTuple, Optional, Sequence

import numpy as np


class Problem(NamedTuple):
    """A broken rule: ``rule`` is a short key, ``message`` says what to do."""
    rule: str
    message: str


def size_problem(label_shape: Sequence[int], image_shape: Sequence[int],
                 label_path: str, image_path: str) -> Optional[Problem]:
    """A label whose height/width differ from its image's."""
    if tuple(label_shape[:2]) == tuple(image_shape[:2]):
        return None
    return Problem(
        'size_mismatch',
        f'label {label_path} is {label_shape[1]}x{label_shape[0]} (WxH) but '
        f'its image {image_path} is {image_shape[1]}x{image_shape[0]}: a label '
        'must have its image\'s size (check the img/ann pairing or re-run '
        'the converter)')


def value_problem(label: np.ndarray, num_classes: int, ignore_index: int,
                  label_path: str, how: str = '') -> Optional[Problem]:
    """Label values that are neither a class id nor the ignore index.

    Args:
        label (np.ndarray): the label as training sees it (after
            ``reduce_zero_label`` / ``label_map``).
        num_classes (int): the dataset's class count.
        ignore_index (int): the ignore value.
        label_path (str): the file, for the message.
        how (str): how the values were obtained, e.g.
            ``'reduce_zero_label=True'``, for the message.
    """
    if label.ndim != 2:
        return Problem(
            'label_not_single_channel',
            f'label {label_path} has shape {label.shape}: a label map must be '
            'one channel of class ids (colour masks need a converter, see '
            'docs/datasets.md)')
    if label.size == 0 or int(label.max()) < num_classes:
        return None  # the common case: one pass over the label
    bad = (label >= num_classes) & (label != ignore_index)
    if not bad.any():
        return None
    values = np.unique(label[bad])
    shown = values[:10].tolist() + (['...'] if len(values) > 10 else [])
    return Problem(
        'label_value',
        f'label {label_path} has values {shown} ({int(bad.sum())} pixels'
        f'{", " + how if how else ""}) that are neither a class '
        f'(0..{num_classes - 1}, num_classes={num_classes}) nor the ignore '
        f'index {ignore_index}: fix the file, or check num_classes / '
        'reduce_zero_label for this dataset')


def seg_label_problems(label: np.ndarray,
                       image_shape: Optional[Sequence[int]],
                       num_classes: int,
                       ignore_index: int,
                       label_path: str,
                       image_path: str = '',
                       how: str = '') -> List[Problem]:
    """All problems of one loaded label (empty list if it is fine).

    Args:
        label (np.ndarray): the loaded label map.
        image_shape (Sequence[int], optional): (H, W, ...) of its image as
            loaded (before any resize); None skips the size rule.
        num_classes (int): the dataset's class count.
        ignore_index (int): the ignore value.
        label_path (str): the label file.
        image_path (str): the image file.
        how (str): see :func:`value_problem`.
    """
    problems = [
        None if image_shape is None else size_problem(
            label.shape, image_shape, label_path, image_path),
        value_problem(label, num_classes, ignore_index, label_path, how)
    ]
    return [p for p in problems if p is not None]
