"""What a checkpoint conversion did with every key, and the errors it raises
when a key does not fit.

A conversion consumes every source key or drops it with a stated reason, and
fills every key of the target model; :class:`ConversionReport` records the
three sets and prints them per key prefix.
"""
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Dict, Iterable, List


class ConversionError(ValueError):
    """A checkpoint that does not fit the conversion; the message names the
    key and says what to do."""


class UnknownKeyError(ConversionError, KeyError):
    """A source key the conversion neither consumes nor drops."""

    def __str__(self) -> str:  # no KeyError quoting
        return str(self.args[0]) if self.args else ''


class MissingKeyError(ConversionError, KeyError):
    """A key the conversion needs is absent from the source checkpoint, or a
    target key is left unfilled."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ''


class ShapeMismatchError(ConversionError):
    """A tensor whose shape does not fit the architecture."""


class KindMismatchError(ConversionError):
    """A checkpoint given as another kind than the one its keys show."""


def prefix_of(key: str, depth: int = 1) -> str:
    """The first ``depth`` dot-separated parts of ``key`` (``'backbone'``,
    ``'decode_heads.vaihingen'``)."""
    return '.'.join(key.split('.')[:depth])


def _depth(key: str) -> int:
    # per-dataset parts are reported per dataset
    return 2 if key.startswith(('decode_heads.', 'module.decode_heads.')) \
        else 1


@dataclass
class ConversionReport:
    """The fate of every key of one conversion.

    Args:
        kind (str): Checkpoint kind (e.g. ``'seg-moe-mdf'``).
        consumed (list[str]): Source keys whose tensors went into the target.
        dropped (dict[str, str]): Source keys left out, with the reason.
        filled (list[str]): Target keys written.
        notes (list[str]): Facts the user needs (e.g. the expert order).
        sources (dict[str, str]): Target key -> the source key it came from
            (where the converter records it).
    """
    kind: str
    consumed: List[str] = field(default_factory=list)
    dropped: Dict[str, str] = field(default_factory=dict)
    filled: List[str] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)
    sources: Dict[str, str] = field(default_factory=dict)

    def check_complete(self, source_keys: Iterable[str]) -> None:
        """Raise unless every source key is consumed or dropped (once)."""
        source = list(source_keys)
        accounted = set(self.consumed) | set(self.dropped)
        left = [k for k in source if k not in accounted]
        if left:
            raise UnknownKeyError(
                f'{self.kind}: source key(s) neither converted nor dropped: '
                f'{left[:10]}{" ..." if len(left) > 10 else ""}')
        both = set(self.consumed) & set(self.dropped)
        if both:
            raise ConversionError(f'{self.kind}: keys both converted and '
                                  f'dropped: {sorted(both)[:10]}')

    @staticmethod
    def _count(keys: Iterable[str]) -> 'OrderedDict[str, int]':
        counts: 'OrderedDict[str, int]' = OrderedDict()
        for key in keys:
            name = prefix_of(key, _depth(key))
            counts[name] = counts.get(name, 0) + 1
        return counts

    def table(self) -> str:
        """Per-prefix counts: source prefixes (consumed / dropped, with the
        reasons) and target prefixes (filled)."""
        consumed = self._count(self.consumed)
        dropped = self._count(self.dropped)
        rows = [f'kind: {self.kind}',
                f'{"source prefix":<40} {"consumed":>9} {"dropped":>8}']
        for name in list(OrderedDict.fromkeys([*consumed, *dropped])):
            rows.append(f'{name:<40} {consumed.get(name, 0):>9} '
                        f'{dropped.get(name, 0):>8}')
        rows.append(f'{"total":<40} {len(self.consumed):>9} '
                    f'{len(self.dropped):>8}')
        rows.append(f'{"target prefix":<40} {"filled":>9}')
        filled = self._count(self.filled)
        for name, num in filled.items():
            rows.append(f'{name:<40} {num:>9}')
        rows.append(f'{"total":<40} {len(self.filled):>9}')
        if self.dropped:
            rows.append('dropped keys:')
            rows.extend(f'  {key}: {reason}'
                        for key, reason in self.dropped.items())
        rows.extend(f'note: {note}' for note in self.notes)
        return '\n'.join(rows)
