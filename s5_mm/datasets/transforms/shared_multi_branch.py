"""mmdet's ``MultiBranch`` without a deep copy of the image per branch."""
import copy

import numpy as np
from mmdet.datasets.transforms import MultiBranch
from mmseg.registry import TRANSFORMS


def _read_only(array: np.ndarray) -> np.ndarray:
    view = array.view()
    view.flags.writeable = False
    return view


@TRANSFORMS.register_module()
class SharedMultiBranch(MultiBranch):
    """``mmdet.MultiBranch`` whose branches share the arrays, read-only.

    mmdet's ``MultiBranch`` gives every branch ``copy.deepcopy(results)``:
    with a weak and a strong view that is two copies of the image and of
    every map per sample (of a strided ``np.flip`` view, each costs more
    than decoding the image; see :class:`ContiguousArrays`). Here each
    branch gets a deep copy of everything except the top-level numpy arrays
    of ``results`` (``img``, ``gt_seg_map``, ...), which it gets as
    read-only views of the same memory. Transforms that return new arrays
    (mmcv / mmseg geometry and colour ops, ``PackSegInputs``, the
    ``strong_views`` ops) see no difference, so the branches' outputs and
    random draws are the same as ``MultiBranch``'s (branches run in the
    same order); a transform that writes into its input in place fails
    with a ``ValueError`` naming the branch instead of changing what the
    other branches see: use ``mmdet.MultiBranch`` for such a branch.

    Pack the branches with :class:`FastPackSegInputs`, which always copies
    the image. mmseg's ``PackSegInputs`` works too, but wraps a C-contiguous
    image in a tensor before copying it, and torch warns once per process
    that the array is not writable.

    Arguments and output format are ``mmdet.MultiBranch``'s.
    """

    def transform(self, results: dict) -> dict:
        """Run every branch; see ``mmdet.MultiBranch.transform``."""
        shared = {
            id(value): _read_only(value)
            for value in results.values() if isinstance(value, np.ndarray)
        }
        multi_results = {
            branch: {
                'inputs': None,
                'data_samples': None
            }
            for branch in self.branch_field
        }
        for branch, pipeline in self.branch_pipelines.items():
            try:
                branch_results = pipeline(copy.deepcopy(results, dict(shared)))
            except ValueError as err:
                if 'read-only' not in str(err):
                    raise
                raise ValueError(
                    f'SharedMultiBranch: a transform of branch {branch!r} '
                    f'writes into its input array in place ({err}); use '
                    f'mmdet.MultiBranch, which copies the arrays per branch '
                    f'({results.get("img_path", "no img_path")})') from err
            if branch_results is None:  # resample, as MultiBranch
                return None
            multi_results[branch] = branch_results
        format_results = {}
        for branch, branch_results in multi_results.items():
            for key, value in branch_results.items():
                format_results.setdefault(key, {})[branch] = value
        return format_results
