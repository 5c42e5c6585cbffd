"""Check every sample of every dataset of a config, streaming.

Per sample (in worker processes): the image decodes as the pipeline's
``LoadImageChecked`` reads it (its ``band_rule``; EXIF orientation
ignored); the label decodes as
training loads it (mmseg's ``LoadAnnotations``: ``reduce_zero_label``,
``label_map``), has its image's size and only class ids or the ignore
index; DOTA / DIOR-R labels parse, name known classes and keep their boxes
inside the image (truncated boxes within a margin). Per dataset: DOTA
images without a label file (a warning, an error with ``strict``); the class histogram and the model heads'
``num_classes``. Memory holds the datasets' file lists (as training does),
one image per worker and the findings, never all images or labels.
"""
import itertools
import multiprocessing
import os.path as osp
from typing import (Dict, Iterable, Iterator, List, NamedTuple, Optional,
                    Sequence, Tuple)

import numpy as np
from mmengine import fileio
from mmengine.config import Config
from mmengine.utils import track_iter_progress
from mmseg.datasets.transforms import LoadAnnotations

from s5_mm.datasets.checks.class_counts import (DatasetClasses,
                                                pipeline_num_classes,
                                                class_count_problems,
                                                config_heads)
from s5_mm.datasets.checks.dataset_walk import (DatasetSpec, find_datasets,
                                                select)
from s5_mm.datasets.checks.rotated_labels import (dior_label_problems,
                                                  dota_label_problems)
from s5_mm.datasets.checks.seg_labels import seg_label_problems
from s5_mm.datasets.band_rule import BandRule
from s5_mm.datasets.dataset_lookup import pipeline_dataset_name
from s5_mm.datasets.dota import images_without_labels, unlabeled_message
from s5_mm.datasets.transforms.load_image_checked import (ImageDecodeError,
                                                          read_image_checked)

#: rules whose findings are warnings (listed, but the check passes)
WARNING_RULES = ('no_objects', 'no_labeled_pixels', 'class_absent',
                 'image_without_label')
#: warnings that ``strict`` makes errors
STRICT_RULES = ('image_without_label', )
BATCH = 256  # tasks handed to the workers at a time (bounds memory)


class Finding(NamedTuple):
    """A broken rule in one file."""
    file: str
    rule: str
    message: str


class Sample(NamedTuple):
    """What a worker checks: the kind, the files, the dataset's rules."""
    kind: str
    img_path: str
    ann_path: Optional[str] = None
    classes: Tuple[str, ...] = ()
    reduce_zero_label: bool = False
    label_map: Optional[dict] = None
    ignore_index: int = 255
    band_rule: Optional[dict] = None


def pipeline_band_rule(pipeline: Sequence[dict]) -> dict:
    """The ``band_rule`` of a pipeline's ``LoadImageChecked`` ({} when it
    has none or loads otherwise: the default rule, 3-band uint8 only)."""
    for step in pipeline:
        if str(step.get('type', '')).split('.')[-1] == 'LoadImageChecked':
            return dict(step.get('band_rule') or {})
    return {}


def _read_image(path: str, band_rule: Optional[dict] = None
                ) -> Tuple[Optional[np.ndarray], List[Finding]]:
    """Decode as ``LoadImageChecked`` does (as stored, then the rule)."""
    try:
        img = read_image_checked(fileio.get(path),
                                 BandRule(**(band_rule or {})), path)
    except ImageDecodeError as e:
        return None, [Finding(path, 'unreadable_image', str(e))]
    except ValueError as e:  # the band rule refused it
        return None, [Finding(path, 'image_format', str(e))]
    except Exception as e:  # any reader error means unreadable
        return None, [Finding(path, 'unreadable_image',
                              f'cannot read image {path}: {e}')]
    return img, []


def _check_seg(s: Sample, img: Optional[np.ndarray]
               ) -> Tuple[List[Finding], np.ndarray, bool]:
    hist = np.zeros(256, np.int64)
    if not osp.isfile(s.ann_path):
        return [Finding(s.ann_path, 'missing_label',
                        f'label {s.ann_path} of image {s.img_path} does not '
                        'exist')], hist, False
    results = dict(seg_map_path=s.ann_path, img_path=s.img_path,
                   reduce_zero_label=s.reduce_zero_label,
                   label_map=s.label_map, seg_fields=[])
    try:
        LoadAnnotations()(results)
    except Exception as e:  # any decoder error means unreadable
        return [Finding(s.ann_path, 'unreadable_label',
                        f'cannot read label {s.ann_path}: {e}')], hist, False
    label = results['gt_seg_map']
    problems = seg_label_problems(
        label, None if img is None else img.shape, len(s.classes),
        s.ignore_index, s.ann_path, s.img_path,
        how=f'after reduce_zero_label={s.reduce_zero_label}')
    found = [Finding(s.ann_path, p.rule, p.message) for p in problems]
    if label.ndim == 2:
        hist = np.bincount(label.ravel(), minlength=256).astype(np.int64)
    empty = label.ndim == 2 and not hist[:len(s.classes)].any()
    if empty and not found:
        found.append(Finding(s.ann_path, 'no_labeled_pixels',
                             f'label {s.ann_path} has no pixel of any class '
                             '(all ignore)'))
    return found, hist, empty


def _check_boxes(s: Sample, img: Optional[np.ndarray]
                 ) -> Tuple[List[Finding], np.ndarray, bool]:
    counts = np.zeros(len(s.classes), np.int64)
    if not osp.isfile(s.ann_path):
        return [Finding(s.ann_path, 'missing_label',
                        f'annotation {s.ann_path} does not exist')], counts, \
            False
    wh = None if img is None else (img.shape[1], img.shape[0])
    check = dota_label_problems if s.kind == 'dota' else dior_label_problems
    names, problems = check(s.ann_path, s.classes, wh)
    found = [Finding(s.ann_path, p.rule, p.message) for p in problems]
    for name in names:
        if name in s.classes:
            counts[s.classes.index(name)] += 1
    if not names:
        found.append(Finding(s.ann_path, 'no_objects',
                             f'{s.ann_path}: image {s.img_path} has no '
                             'objects'))
    return found, counts, not names


def check_sample(s: Sample) -> Tuple[List[Finding], np.ndarray, bool]:
    """Findings, class counts (pixels or objects) and emptiness of one
    sample (run in a worker)."""
    img, found = _read_image(s.img_path, s.band_rule) \
        if osp.isfile(s.img_path) else (
        None, [Finding(s.img_path, 'missing_image',
                       f'image {s.img_path} does not exist')])
    if s.kind == 'images':
        return found, np.zeros(0, np.int64), False
    check = _check_seg if s.kind == 'seg' else _check_boxes
    more, counts, empty = check(s, img)
    return found + more, counts, empty


def samples_of(spec: DatasetSpec) -> Tuple[Dict, int, Iterator[Sample]]:
    """The dataset's metainfo summary, its size and a generator of its
    samples."""
    rule = pipeline_band_rule(spec.cfg.get('pipeline') or [])
    if spec.kind in ('seg', 'images'):
        kwargs = {k: v for k, v in spec.cfg.items() if k != 'type'}
        dataset = spec.cls(**dict(kwargs, pipeline=[], lazy_init=False))
        classes = tuple(dataset.metainfo.get('classes') or ())
        ignore = getattr(dataset, 'ignore_index', 255)
        info = dict(classes=classes, ignore_index=ignore)

        def gen() -> Iterator[Sample]:
            for i in range(len(dataset)):
                d = dataset.get_data_info(i)
                yield Sample(spec.kind, d['img_path'], d.get('seg_map_path'),
                             classes, bool(d.get('reduce_zero_label')),
                             d.get('label_map'), ignore, rule)

        return info, len(dataset), gen()
    cfg = spec.cfg
    classes = tuple((cfg.get('metainfo') or {}).get('classes') or
                    spec.cls.METAINFO['classes'])
    root = cfg.get('data_root') or ''
    img_dir = osp.join(root,
                       (cfg.get('data_prefix') or {}).get('img_path', ''))
    ann = osp.join(root, cfg.get('ann_file', ''))
    info = dict(classes=classes)
    if spec.kind == 'dota':
        suffix = cfg.get('img_suffix', 'png')
        names = sorted(p[:-4] for p in fileio.list_dir_or_file(
            ann, list_dir=False, suffix='.txt'))
        missing = images_without_labels(img_dir, ann, suffix)
        if missing:
            info['image_without_label'] = unlabeled_message(missing, img_dir,
                                                            ann)
        return info, len(names), (
            Sample('dota', osp.join(img_dir, f'{n}.{suffix}'),
                   osp.join(ann, f'{n}.txt'), classes, band_rule=rule)
            for n in names)
    suffix = cfg.get('img_suffix', 'jpg')
    xml_dir = osp.join(root, cfg.get('ann_subdir',
                                     'Annotations/Oriented Bounding Boxes/'))
    with open(ann, encoding='utf-8') as f:
        ids = [line.strip() for line in f if line.strip()]
    return info, len(ids), (
        Sample('dior', osp.join(img_dir, f'{i}.{suffix}'),
               osp.join(xml_dir, f'{i}.xml'), classes, band_rule=rule)
        for i in ids)


def _run(samples: Iterable[Sample], workers: int
         ) -> Iterator[Tuple[List[Finding], np.ndarray, bool]]:
    if workers <= 1:
        yield from map(check_sample, samples)
        return
    with multiprocessing.Pool(workers) as pool:
        it = iter(samples)
        while True:
            batch = list(itertools.islice(it, BATCH))
            if not batch:
                return
            yield from pool.imap(check_sample, batch, chunksize=8)


def check_one(spec: DatasetSpec, workers: int = 1,
              progress: bool = True, strict: bool = False) -> dict:
    """Check one dataset; returns its part of the report (``strict``:
    images without labels are errors)."""
    entry = dict(type=spec.cls.__name__, where=spec.where, split=spec.split,
                 kind=spec.kind, samples=0, errors=[], warnings=[])
    try:
        info, total, samples = samples_of(spec)
    except Exception as e:  # a dataset that cannot be listed is an error
        entry['errors'].append(dict(file=spec.cfg.get('data_root', ''),
                                    rule='unreadable_dataset',
                                    message=f'{spec.where}: {e}'))
        return entry
    unlabeled = info.pop('image_without_label', None)
    entry.update(info)
    if unlabeled:
        entry['errors' if strict else 'warnings'].append(dict(
            file=spec.where, rule='image_without_label',
            message=f'{spec.key}: {unlabeled}'))
    counts = None
    empty = 0
    results = _run(samples, workers)
    if progress and total:
        results = track_iter_progress((results, total))
    for found, sample_counts, is_empty in results:
        entry['samples'] += 1
        empty += int(is_empty)
        counts = sample_counts if counts is None else counts + sample_counts
        for f in found:
            key = 'warnings' if f.rule in WARNING_RULES else 'errors'
            entry[key].append(f._asdict())
    classes = info.get('classes', ())
    entry['empty'] = empty
    if spec.kind != 'images' and classes:
        counts = np.zeros(256 if spec.kind == 'seg' else len(classes),
                          np.int64) if counts is None else counts
        entry['class_counts'] = {
            c: int(counts[i]) for i, c in enumerate(classes)}
        if spec.kind == 'seg':
            entry['ignored_pixels'] = int(counts[info['ignore_index']])
        absent = [c for c in classes if entry['class_counts'][c] == 0]
        if absent and entry['samples']:
            entry['warnings'].append(dict(
                file=spec.where, rule='class_absent',
                message=f'{spec.key}: classes {absent} never occur'))
    return entry


def check_config(cfg: Config,
                 split: Optional[str] = None,
                 dataset: Optional[str] = None,
                 workers: int = 1,
                 progress: bool = True,
                 strict: bool = False) -> dict:
    """Check the datasets of a config.

    Args:
        cfg (Config): the config.
        split (str, optional): 'train', 'val' or 'test'; default all.
        dataset (str, optional): only the datasets of this name.
        workers (int): worker processes.
        progress (bool): show a progress bar per dataset.
        strict (bool): images without a label file are errors, not
            warnings.

    Returns:
        dict: the report (``ok``, ``errors``, ``warnings``, ``datasets``).
    """
    every = find_datasets(cfg, [split] if split else None)
    specs = select(every, dataset) if dataset else every
    report = dict(datasets={})
    for spec in specs:
        report['datasets'][spec.key] = check_one(spec, workers, progress,
                                                  strict)
    _check_heads(cfg, specs, every, report)
    errors = sum(len(d['errors']) for d in report['datasets'].values())
    report.update(
        ok=errors == 0, errors=errors,
        warnings=sum(len(d['warnings'])
                     for d in report['datasets'].values()))
    return report


def _check_heads(cfg: Config, specs: List[DatasetSpec],
                 every: List[DatasetSpec], report: dict) -> None:
    """Heads' ``num_classes`` vs each checked dataset's classes (config
    level); heads are matched by the names of ``every`` dataset."""
    if 'model' not in cfg:
        return
    model = cfg.model.to_dict() if hasattr(cfg.model, 'to_dict') else \
        dict(cfg.model)
    routed = {spec.key: pipeline_dataset_name(spec.cfg.get('pipeline') or [])
              for spec in every}
    heads = config_heads(model, [n for n in routed.values() if n])
    for spec in specs:
        entry = report['datasets'][spec.key]
        ds = DatasetClasses(routed[spec.key], spec.where, entry.get('classes'),
                            pipeline_num_classes(spec.cfg.get('pipeline')
                                                 or []))
        entry['heads'] = {
            h.key: h.num_classes for h in heads
            if entry.get('classes') and h.dataset in (None, ds.name)}
        for p in class_count_problems(heads, [ds],
                                      model.get('dataset_names')):
            entry['errors'].append(dict(file=cfg.filename or 'config',
                                        rule=p.rule, message=p.message))
