"""Many paths in two numpy arrays: the in-memory form of a split file."""
from typing import Iterator, Sequence

import numpy as np


class PackedPaths(Sequence[str]):
    """Paths in one ``uint8`` buffer plus ``int64`` end offsets.

    The layout of mmengine's serialized datasets (``data_bytes``,
    ``data_address``): path ``i`` is ``data[ends[i - 1]:ends[i]]`` in UTF-8.
    Indexing returns ``str``; the arrays hold no Python objects, so forked
    dataloader workers share their pages with the parent.

    Args:
        data (np.ndarray): ``uint8`` UTF-8 bytes of all paths, concatenated.
        ends (np.ndarray): ``int64`` cumulative end offset of every path.
    """

    def __init__(self, data: np.ndarray, ends: np.ndarray) -> None:
        self.data, self.ends = data, ends

    @classmethod
    def from_strings(cls, paths: Sequence[str]) -> 'PackedPaths':
        """Pack a sequence of strings."""
        encoded = [p.encode('utf-8') for p in paths]
        ends = np.cumsum([len(b) for b in encoded], dtype=np.int64)
        data = np.frombuffer(b''.join(encoded), np.uint8).copy()
        return cls(data, ends)

    def __len__(self) -> int:
        return len(self.ends)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(f'path index {i} out of range ({len(self)})')
        start = int(self.ends[i - 1]) if i else 0
        return self.data[start:int(self.ends[i])].tobytes().decode('utf-8')

    def __iter__(self) -> Iterator[str]:
        text = self.data.tobytes()
        start = 0
        for end in self.ends.tolist():
            yield text[start:end].decode('utf-8')
            start = end

    def __eq__(self, other) -> bool:
        if isinstance(other, PackedPaths):
            return (np.array_equal(self.ends, other.ends)
                    and np.array_equal(self.data, other.data))
        return isinstance(other, (list, tuple)) and list(self) == list(other)

    def __repr__(self) -> str:
        head = ', '.join(repr(p) for p in self[:3])
        more = ', ...' if len(self) > 3 else ''
        return f'PackedPaths({len(self)}: [{head}{more}])'

    @property
    def nbytes(self) -> int:
        """Bytes held by the two arrays."""
        return self.data.nbytes + self.ends.nbytes
