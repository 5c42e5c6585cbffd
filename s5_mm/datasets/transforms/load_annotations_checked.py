"""mmseg's ``LoadAnnotations`` that checks every label it loads."""
from typing import Optional

from mmseg.datasets.transforms import LoadAnnotations
from mmseg.registry import TRANSFORMS

from s5_mm.datasets.checks.seg_labels import seg_label_problems


@TRANSFORMS.register_module()
class LoadAnnotationsChecked(LoadAnnotations):
    """Load a semantic label map like mmseg's ``LoadAnnotations``, then stop
    with an error naming the file if it does not fit its image or dataset.

    Checks, on the label just decoded (no second read; one comparison in
    the common case):

    - its height/width equal the image's as loaded (``ori_shape``, so it
      holds wherever the transform sits, even after a ``Resize``): a label
      of the wrong size otherwise trains silently through ``RandomResize``;
    - every value, after ``reduce_zero_label`` / ``label_map``, is a class
      id in ``[0, num_classes)`` or ``ignore_index``: a stray value
      otherwise fails deep in the loss, naming no file.

    Use it in place of ``LoadAnnotations`` after ``LoadImageFromFile``.
    :class:`~s5_mm.engine.hooks.DatasetClassCheckHook` checks that
    ``num_classes`` equals the dataset's class count when the runner starts.

    Args:
        num_classes (int): The dataset's class count (``len(classes)``).
        ignore_index (int): The ignore value. Defaults to 255.
        **kwargs: Arguments of mmseg's ``LoadAnnotations``
            (``reduce_zero_label``, ``backend_args``, ``imdecode_backend``).
    """

    def __init__(self,
                 num_classes: int,
                 ignore_index: int = 255,
                 **kwargs) -> None:
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError('LoadAnnotationsChecked needs num_classes = the '
                             f"dataset's class count, got {num_classes!r}")
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.ignore_index = ignore_index

    def transform(self, results: dict) -> dict:
        # mmseg's ``inference_model`` drops test-pipeline steps whose type is
        # exactly 'LoadAnnotations'; for a bare image (no ``seg_map_path`` key
        # at all: no label exists) this step has nothing to load or check.
        # mmseg datasets always set the key, so training and evaluation are
        # always checked.
        if 'seg_map_path' not in results:
            return results
        return super().transform(results)

    def _load_seg_map(self, results: dict) -> None:
        super()._load_seg_map(results)
        shape: Optional[tuple] = results.get('ori_shape')
        if shape is None and 'img' in results:
            shape = results['img'].shape
        problems = seg_label_problems(
            results['gt_seg_map'], shape, self.num_classes, self.ignore_index,
            results['seg_map_path'], results.get('img_path', ''),
            how=f'after reduce_zero_label={self.reduce_zero_label}')
        if problems:
            raise ValueError(problems[0].message)

    def __repr__(self) -> str:
        return (super().__repr__()[:-1] + f', num_classes={self.num_classes}'
                f', ignore_index={self.ignore_index})')
