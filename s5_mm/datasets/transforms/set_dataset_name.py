"""Tag every sample with the name of the dataset it comes from."""
from mmcv.transforms import BaseTransform
from mmdet.registry import TRANSFORMS as DET_TRANSFORMS
from mmseg.registry import TRANSFORMS as SEG_TRANSFORMS

from s5_mm.models.utils.routing import DATASET_KEY


@SEG_TRANSFORMS.register_module()
@DET_TRANSFORMS.register_module()
class SetDatasetName(BaseTransform):
    """Write ``dataset_name`` into a sample, for multi-dataset models.

    Put it at the END of a dataset's pipeline, after ``PackSegInputs`` /
    ``PackDetInputs``: it then sets the packed data sample's metainfo, so the
    packing transform's ``meta_keys`` need no change. Placed before packing,
    it sets ``results['dataset_name']`` (add the key to ``meta_keys``).

    Args:
        name (str): the dataset's name, as in the model's ``dataset_names``.
    """

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f'SetDatasetName needs a non-empty str name, got {name!r}')
        self.name = name

    def transform(self, results: dict) -> dict:
        sample = results.get('data_samples')
        if sample is not None and hasattr(sample, 'set_metainfo'):
            sample.set_metainfo({DATASET_KEY: self.name})
        else:
            results[DATASET_KEY] = self.name
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(name={self.name!r})'
