"""Every registered s5_mm class: importable from its package and its top
package, registered once, in the registry docs/registry.md gives it."""
import importlib

import pytest
from mmengine import registry as mmengine_registry

import s5_mm  # noqa: F401

# class -> (package, registry scope, registry name)
REGISTERED = {
    'AlbuColorJitter': ('s5_mm.datasets.transforms', 'mmseg', 'transform'),
    'BoxGaussianBlur': ('s5_mm.datasets.transforms', 'mmseg', 'transform'),
    'CountedAsClassIoUMetric': ('s5_mm.evaluation', 'mmseg', 'metric'),
    'DatasetClassCheckHook': ('s5_mm.engine.hooks', 'mmengine', 'hook'),
    'EMATeacherHook': ('s5_mm.engine.hooks', 'mmseg', 'hook'),
    'EntropyDiversitySelectorHook': ('s5_mm.engine.hooks', 'mmseg', 'hook'),
    'Feature2PyramidLN': ('s5_mm.models.necks', 'mmseg', 'model'),
    'FixMatchSegmentor': ('s5_mm.models.segmentors', 'mmseg', 'model'),
    'ExtendedRotatedRoIExtractor':
    ('s5_mm.models.roi_heads', 'mmrotate', 'model'),
    'FastRandomGrayscale':
    ('s5_mm.datasets.transforms', 'mmseg', 'transform'),
    'FinalResizeUPerHead': ('s5_mm.models.decode_heads', 'mmseg', 'model'),
    'FixMatchVisualizationHook': ('s5_mm.engine.hooks', 'mmseg', 'hook'),
    'FullSceneDOTAMetric': ('s5_mm.evaluation', 'mmrotate', 'metric'),
    'IterationRecorderHook': ('s5_mm.engine.hooks', 'mmengine', 'hook'),
    'LoadImageChecked': ('s5_mm.datasets.transforms', 'mmengine',
                         'transform'),
    'LayerDecayOptimWrapperConstructor':
    ('s5_mm.engine.optimizers', 'mmseg', 'optimizer wrapper constructor'),
    'LoadAnnotationsChecked':
    ('s5_mm.datasets.transforms', 'mmseg', 'transform'),
    'LoadIgnoreMask': ('s5_mm.datasets.transforms', 'mmseg', 'transform'),
    'MoEViT': ('s5_mm.models.backbones', 'mmseg', 'model'),
    'MultiDatasetDOTAMetric': ('s5_mm.evaluation', 'mmrotate', 'metric'),
    'MultiDatasetEncoderDecoder':
    ('s5_mm.models.segmentors', 'mmseg', 'model'),
    'MultiDatasetEvaluator': ('s5_mm.evaluation', 'mmengine', 'evaluator'),
    'MultiDatasetSegTTAModel': ('s5_mm.models.segmentors', 'mmseg', 'model'),
    'MultiDatasetTestLoop': ('s5_mm.engine.runner', 'mmengine', 'loop'),
    'MultiDatasetTwoStageDetector':
    ('s5_mm.models.detectors', 'mmrotate', 'model'),
    'MultiDatasetValLoop': ('s5_mm.engine.runner', 'mmengine', 'loop'),
    'OpenEarthMapDataset': ('s5_mm.datasets', 'mmseg', 'dataset'),
    'RNGStateHook': ('s5_mm.engine.hooks', 'mmengine', 'hook'),
    # the one exception (docs/registry.md): configs say mmdet.SetDatasetName
    'S5OpenEarthMapDataset': ('s5_mm.datasets', 'mmseg', 'dataset'),
    'SetDatasetName': ('s5_mm.datasets.transforms', ('mmdet', 'mmseg'),
                       'transform'),
    'StrictDIORDataset': ('s5_mm.datasets', 'mmrotate', 'dataset'),
    'StrictDOTAv2Dataset': ('s5_mm.datasets', 'mmrotate', 'dataset'),
    'StrictLoadHook': ('s5_mm.engine.hooks', 'mmengine', 'hook'),
    'UnlabeledImageDataset': ('s5_mm.datasets', 'mmseg', 'dataset'),
}


def _all_registries():
    """Every registry object: mmengine's roots and all their children."""
    import mmdet.registry  # noqa: F401 (creates the children)
    import mmrotate.registry  # noqa: F401
    import mmseg.registry  # noqa: F401
    stack = [r for r in vars(mmengine_registry).values()
             if isinstance(r, mmengine_registry.Registry)]
    seen = []
    while stack:
        reg = stack.pop()
        if any(reg is s for s in seen):
            continue
        seen.append(reg)
        stack.extend(reg.children.values())
    return seen


def _s5mm_registrations():
    """{class name: [(scope, registry name)]} of every s5_mm class."""
    found = {}
    for reg in _all_registries():
        for name, cls in reg.module_dict.items():
            if getattr(cls, '__module__', '').startswith('s5_mm.'):
                assert name == cls.__name__, (name, cls)
                found.setdefault(name, []).append((reg.scope, reg.name))
    return found


def test_every_registered_class_is_listed_once_in_its_registry():
    found = _s5mm_registrations()
    assert set(found) == set(REGISTERED), (
        'registered but not listed (add it to REGISTERED, its package '
        f'__init__ and docs/registry.md): {set(found) - set(REGISTERED)}; '
        f'listed but not registered: {set(REGISTERED) - set(found)}')
    for name, (_, scopes, reg_name) in REGISTERED.items():
        scopes = scopes if isinstance(scopes, tuple) else (scopes, )
        assert sorted(found[name]) == [(s, reg_name) for s in scopes], name


@pytest.mark.parametrize('name', sorted(REGISTERED))
def test_imports_from_its_package_and_the_top_package(name):
    package, _, _ = REGISTERED[name]
    cls = getattr(importlib.import_module(package), name)
    assert name in importlib.import_module(package).__all__
    top = importlib.import_module('.'.join(package.split('.')[:2]))
    assert getattr(top, name) is cls
    assert name in top.__all__
    assert cls.__module__.startswith(package)


def test_paths_named_in_docstrings():
    """The import lines docs/registry.md and the issue give."""
    from s5_mm.datasets import UnlabeledImageDataset  # noqa: F401
    from s5_mm.evaluation import MultiDatasetEvaluator  # noqa: F401
    from s5_mm.models import (FixMatchSegmentor, MoEViT,  # noqa: F401
                              MultiDatasetEncoderDecoder)
    from s5_mm.models.backbones import MoEViT as M2
    from s5_mm.models.segmentors import FixMatchSegmentor as F2
    assert M2 is MoEViT and F2 is FixMatchSegmentor


@pytest.mark.parametrize('scope', ['mmseg', 'mmrotate', 'mmdet'])
def test_root_components_build_from_every_scope(scope):
    """A root-registered component resolves from every scope without a
    prefix; SetDatasetName also with the prefixes the configs use."""
    from mmengine.registry import HOOKS, TRANSFORMS, DefaultScope
    with DefaultScope.overwrite_default_scope(scope):
        hook = HOOKS.build(dict(type='DatasetClassCheckHook'))
        assert type(hook).__name__ == 'DatasetClassCheckHook'
        keys = ['mmdet.SetDatasetName'] + (
            ['SetDatasetName'] if scope != 'mmrotate' else [])
        for key in keys:
            t = TRANSFORMS.build(dict(type=key, name='a'))
            assert type(t).__name__ == 'SetDatasetName' and t.name == 'a'
