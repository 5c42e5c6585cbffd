"""The selector's settings, written once (no torch).

:class:`SelectionSettings` is the one place that names every setting of the
three steps, with its default, its valid values and its help text. The tool
builds its command-line flags from it (:func:`add_setting_args`), the hook
builds it from its config (:meth:`SelectionSettings.from_dict`), and a score
folder's ``meta.json`` stores the settings that fix the scores
(:meth:`SelectionSettings.resume_keys`), which a resumed run must match.
"""
import argparse
import dataclasses
from typing import ClassVar, Optional, Tuple

GPU_MODES = ('auto', 'on', 'off')


def _setting(default, step: str, help: str, **cli):
    """A field with the step that uses it, its help and argparse extras."""
    return dataclasses.field(
        default=default, metadata=dict(step=step, help=help, cli=cli))


@dataclasses.dataclass(frozen=True)
class SelectionSettings:
    """Every setting of the score, cluster and select steps.

    ``num_clusters`` and ``budget`` have no default: the cluster and select
    steps need them (:meth:`require`).
    """
    # score
    feature_module: str = _setting(
        'backbone', 'score', 'module whose output is pooled into the feature '
        '(e.g. backbone, neck)')
    feature_index: int = _setting(
        -1, 'score', 'which output of that module (default: last)')
    shard_size: int = _setting(
        1000, 'score', 'images per shard file (the resumable unit)')
    batch_size: int = _setting(8, 'score', 'images per forward pass')
    num_workers: int = _setting(
        4, 'score', 'image decoding workers per rank (0: decode in the '
        'scoring process)')
    on_error: str = _setting(
        'skip', 'score', 'bad image: log it in rejects.tsv and continue '
        '(skip) or log it and stop', choices=('skip', 'stop'))
    max_shards: Optional[int] = _setting(
        None, 'score', 'score at most this many shards per rank in this run')
    # cluster
    num_clusters: Optional[int] = _setting(
        None, 'cluster', 'K-Means clusters M', required=True)
    niter: int = _setting(20, 'cluster', 'K-Means iterations')
    seed: int = _setting(0, 'cluster', 'K-Means seed')
    normalize: bool = _setting(
        True, 'cluster', 'cluster raw features (default: L2-normalised, '
        'spherical K-Means)', flag='--no-normalize')
    gpu: str = _setting(
        'auto', 'cluster', 'faiss on GPU (auto: when faiss sees one)',
        choices=GPU_MODES)
    chunk_rows: int = _setting(
        32768, 'cluster', 'candidates searched per faiss call')
    # select
    budget: Optional[int] = _setting(
        None, 'select', 'total number of images N to select', required=True)
    quota_mode: str = _setting(
        'proportional', 'select', 'quotas proportional to labeled cluster '
        'sizes, or equal', choices=('proportional', 'equal'))

    #: settings that fix a score folder's numbers (stored in meta.json)
    RESUME_KEYS: ClassVar[Tuple[str, ...]] = ('shard_size', 'feature_module',
                                              'feature_index')

    def __post_init__(self) -> None:
        gpu = {None: 'auto', True: 'on', False: 'off'}.get(self.gpu, self.gpu)
        object.__setattr__(self, 'gpu', gpu)
        for f in dataclasses.fields(self):
            value, choices = getattr(self, f.name), f.metadata['cli'].get(
                'choices')
            if choices and value not in choices:
                raise ValueError(f'selection setting {f.name} must be one of '
                                 f'{choices}, got {value!r}')
        for name, low in (('shard_size', 1), ('batch_size', 1),
                          ('num_workers', 0), ('max_shards', 1),
                          ('num_clusters', 1), ('niter', 1),
                          ('chunk_rows', 1), ('budget', 1)):
            value = getattr(self, name)
            if value is not None and value < low:
                raise ValueError(f'selection setting {name} must be >= {low}'
                                 f', got {value}')

    @classmethod
    def from_dict(cls, cfg: dict, where: str = 'settings'
                  ) -> 'SelectionSettings':
        """Build from a dict; an unknown key is an error naming it."""
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(cfg) - set(names))
        if unknown:
            raise KeyError(f'{where}: unknown selection setting(s) {unknown}; '
                           f'valid: {names}')
        return cls(**cfg)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> 'SelectionSettings':
        """Build from the tool's parsed flags (those of its step)."""
        return cls(**{
            f.name: getattr(args, f.name)
            for f in dataclasses.fields(cls) if hasattr(args, f.name)
        })

    def require(self, *names: str) -> None:
        """An error naming each setting in ``names`` that is unset."""
        missing = [n for n in names if getattr(self, n) is None]
        if missing:
            raise ValueError(f'selection setting(s) {missing} must be set '
                             '(e.g. --num-clusters / --budget)')

    def resume_keys(self) -> dict:
        """The settings a resumed scoring run must share (``meta.json``)."""
        return {k: getattr(self, k) for k in self.RESUME_KEYS}

    @property
    def faiss_gpu(self) -> Optional[bool]:
        """``gpu`` for faiss: None (auto), True or False."""
        return dict(auto=None, on=True, off=False)[self.gpu]


def add_setting_args(parser: argparse.ArgumentParser, step: str) -> None:
    """Add the flags of ``step``'s settings (defaults from the dataclass)."""
    for f in dataclasses.fields(SelectionSettings):
        if f.metadata['step'] != step:
            continue
        cli = dict(f.metadata['cli'])
        flag = cli.pop('flag', '--' + f.name.replace('_', '-'))
        if f.default is True:  # a switch that turns the setting off
            parser.add_argument(flag, dest=f.name, action='store_false',
                                help=f.metadata['help'])
            continue
        kind = f.type if f.type in (str, int) else int  # Optional[int]
        parser.add_argument(flag, dest=f.name, type=kind, default=f.default,
                            help=f.metadata['help'], **cli)
