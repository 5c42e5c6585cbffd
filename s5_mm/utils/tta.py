"""Test-time augmentation for single- and multi-dataset configs
(``tools/test.py --tta``)."""
import copy

from mmengine.config import Config

from s5_mm.datasets.dataset_lookup import dataset_names, iter_dataset_cfgs

# the views merged by default when the config has no ``tta_views``
DEFAULT_TTA_VIEWS = [
    dict(type='RandomFlip', prob=0., direction='horizontal'),
    dict(type='RandomFlip', prob=1., direction='horizontal'),
]
_LOADERS = ('LoadImageFromFile', 'LoadImageChecked', 'LoadImageFromNDArray')


def wrap_tta_pipeline(pipeline: list, views: list) -> list:
    """A test pipeline whose images are seen in every view of ``views``.

    Args:
        pipeline (list): a dataset's test pipeline (loading first).
        views (list): alternative transforms, one per view.

    Returns:
        list: ``[loading, TestTimeAug([views, [step], [step], ...])]``: each
        later step of the dataset's own pipeline (resize, annotations,
        packing, ``SetDatasetName``) runs on every view.
    """
    pipeline = copy.deepcopy(list(pipeline))
    if not pipeline or str(pipeline[0].get('type')).split('.')[-1] not in \
            _LOADERS:
        raise ValueError('--tta: a test pipeline must start with image '
                         f'loading ({_LOADERS}), got {pipeline[:1]}')
    rest = [[step] for step in pipeline[1:]]
    return [pipeline[0],
            dict(type='TestTimeAug', transforms=[list(views)] + rest)]


def enable_tta(cfg: Config) -> Config:
    """Switch a test config to test-time augmentation, in place.

    A config with one test dataset and a ``tta_pipeline`` uses it (mmseg's
    rule). Otherwise every (leaf) test dataset, each one of a multi-dataset
    ``ConcatDataset`` too, keeps its own pipeline wrapped by
    :func:`wrap_tta_pipeline` with the config's ``tta_views`` (default:
    the image and its horizontal flip). The model is wrapped in
    ``tta_model`` (``SegTTAModel`` in the segmentation runtime; for a
    multi-dataset config ``MultiDatasetSegTTAModel``).

    Args:
        cfg (Config): a config with ``test_dataloader`` and ``tta_model``.

    Returns:
        Config: ``cfg``.
    """
    if not cfg.get('tta_model'):
        raise KeyError('--tta needs `tta_model` in the config (e.g. '
                       "tta_model = dict(type='SegTTAModel')); this config "
                       'has none')
    dataset = cfg.test_dataloader.dataset
    leaves = [leaf for _, leaf in iter_dataset_cfgs(dataset)]
    if cfg.get('tta_pipeline') and leaves == [dataset]:
        dataset.pipeline = cfg.tta_pipeline
    else:
        views = cfg.get('tta_views') or DEFAULT_TTA_VIEWS
        for leaf in leaves:
            leaf['pipeline'] = wrap_tta_pipeline(leaf['pipeline'], views)
    if len(dataset_names(dataset)) > 1 and \
            cfg.tta_model.get('type') == 'SegTTAModel':
        # mmseg's reads module.out_channels: one head per dataset has none
        cfg.tta_model.type = 'MultiDatasetSegTTAModel'
    cfg.tta_model.module = cfg.model
    cfg.model = cfg.tta_model
    return cfg
