"""Predictions made without s5_mm's inference code, to check the demo and
the tools against: the model built from the config by the host registry,
the checkpoint's weights loaded with ``load_state_dict(strict=True)``, the
config's own test pipeline (annotation loaders dropped, images read from
the file) and mmseg's ``inference_model`` / the model's ``test_step``."""
import copy
from typing import List, Optional

import torch
from mmcv.transforms import Compose
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope

_DROP = ('LoadAnnotations', 'LoadAnnotationsChecked', 'ConvertBoxType')
_LOADER = {'mmseg': 'LoadImageFromFile', 'mmrotate': 'mmdet.LoadImageFromFile'}


def perturb_checkpoint(ckpt: str, seed: int = 1, scale: float = 0.05):
    """Add Gaussian noise (std ``scale``) to every floating-point weight of
    a checkpoint, in place: no seed of a fresh initialisation gives these
    weights, so a model that ignores its checkpoint cannot match them."""
    state = torch.load(ckpt, map_location='cpu')
    gen = torch.Generator().manual_seed(seed)
    for value in state['state_dict'].values():
        if value.is_floating_point():
            value.add_(torch.randn(value.shape, generator=gen) * scale)
    torch.save(state, ckpt)


def config_test_pipeline(cfg: Config, dataset: Optional[str] = None) -> list:
    """The test pipeline of the config's test dataset named ``dataset`` (by
    its ``SetDatasetName`` step), or of the only test dataset, read from
    ``cfg.test_dataloader`` by hand."""
    root = cfg.test_dataloader.dataset
    leaves = list(root.get('datasets', [root]))
    found = []
    for leaf in leaves:
        names = [t.get('name') for t in leaf.pipeline
                 if str(t['type']).endswith('SetDatasetName')]
        if dataset is None or dataset in names:
            found.append(leaf.pipeline)
    assert len(found) == 1, f'{dataset}: {len(found)} test datasets'
    return found[0]


def file_pipeline(pipeline: list, scope: str) -> List[dict]:
    """``pipeline`` reading the image from its file, without labels."""
    steps = []
    for t in copy.deepcopy(list(pipeline)):
        name = str(t['type']).split('.')[-1]
        if name in _DROP:
            continue
        if name in ('LoadImageFromFile', 'LoadImageChecked'):
            t = dict(type=_LOADER[scope])
        steps.append(dict(t))
    return steps


def load_weights(cfg: Config, ckpt: str, prefix: str = ''):
    """The config's model (host registry of its ``default_scope``) with the
    checkpoint's ``prefix`` weights, strictly, in eval mode."""
    scope = cfg.get('default_scope', 'mmseg')
    init_default_scope(scope)
    if scope == 'mmrotate':
        from mmrotate.registry import MODELS
    else:
        from mmseg.registry import MODELS
    model = MODELS.build(copy.deepcopy(cfg.model))
    state = torch.load(ckpt, map_location='cpu')['state_dict']
    model.load_state_dict({k[len(prefix):]: v for k, v in state.items()
                           if k.startswith(prefix)}, strict=True)
    return model.eval()


def segmentation_prediction(cfg: Config, ckpt: str, image_file: str,
                            dataset: Optional[str] = None):
    """mmseg's ``inference_model`` of the loaded weights on ``image_file``
    with the test pipeline of ``dataset``: the ``SegDataSample``."""
    from mmseg.apis import inference_model
    model = load_weights(cfg, ckpt)
    model.cfg = Config(dict(test_pipeline=file_pipeline(
        config_test_pipeline(cfg, dataset), 'mmseg')))
    return inference_model(model, image_file)


@torch.no_grad()
def detection_prediction(cfg: Config, ckpt: str, image_file: str,
                         dataset: Optional[str] = None):
    """``test_step`` of the loaded weights on ``image_file`` with the test
    pipeline of ``dataset``: the ``DetDataSample``."""
    model = load_weights(cfg, ckpt)
    pipeline = Compose(file_pipeline(config_test_pipeline(cfg, dataset),
                                     'mmrotate'))
    return model.test_step(pseudo_collate([pipeline(
        dict(img_path=image_file))]))[0]
