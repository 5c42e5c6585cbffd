"""Many paths in two numpy arrays: the in-memory form of a split file, and
a file of the same two arrays that processes map instead of copying."""
import mmap
import os
import struct
import zlib
from typing import Iterator, Optional, Sequence

import numpy as np

#: file layout: this header (magic, key, count, data bytes, CRC-32 of the
#: rest), then the ``int64`` ends, then the ``uint8`` data
MAGIC = b'S5PATHS1'
HEADER = struct.Struct('<8s32sQQI4x')  # 64 bytes: the ends stay aligned
NO_KEY = bytes(32)


def _mapped_file(arr: np.ndarray) -> Optional[str]:
    """The file ``arr`` maps whole (as :meth:`PackedPaths.open_file` maps
    it), else None (a slice or copy of a map is not one)."""
    if isinstance(arr, np.memmap) and isinstance(arr.base, mmap.mmap):
        return arr.filename
    return None


class PackedPaths(Sequence[str]):
    """Paths in one ``uint8`` buffer plus ``int64`` end offsets.

    The layout of mmengine's serialized datasets (``data_bytes``,
    ``data_address``): path ``i`` is ``data[ends[i - 1]:ends[i]]`` in UTF-8.
    Indexing returns ``str``; the arrays hold no Python objects, so forked
    dataloader workers share their pages with the parent.

    :meth:`save` writes the two arrays to a file and :meth:`open_file` maps
    such a file read-only: every process that maps it (the ranks of a node,
    their workers) shares the same page-cache pages. Mapped paths pickle as
    the file's name (a spawned worker maps it again, no bytes are copied).

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

    def save(self, file: str, key: bytes = NO_KEY) -> None:
        """Write the arrays to ``file`` (in place: write to a temporary name
        and move it, as :mod:`s5_mm.selection.split_cache` does).

        Args:
            file (str): Destination.
            key (bytes): 32 bytes stored in the header, checked by
                :meth:`open_file` (e.g. a hash of the source).
        """
        ends = np.ascontiguousarray(self.ends, '<i8')
        data = np.ascontiguousarray(self.data, np.uint8)
        crc = zlib.crc32(data, zlib.crc32(ends))
        with open(file, 'wb') as f:
            f.write(HEADER.pack(MAGIC, key, len(ends), len(data), crc))
            f.write(memoryview(ends).cast('B'))
            f.write(memoryview(data))

    @classmethod
    def open_file(cls,
                  file: str,
                  key: Optional[bytes] = None) -> 'PackedPaths':
        """Map a file written by :meth:`save`, read-only.

        The header, the file size and the CRC-32 of the arrays are checked,
        so a truncated, partly written or altered file is an error.

        Args:
            file (str): The file.
            key (bytes, optional): The key the header must hold.

        Raises:
            ValueError: The file is not a complete packed-paths file (for
                ``key``); the message names the file and the reason.
        """
        with open(file, 'rb') as f:
            head = f.read(HEADER.size)
            size = os.fstat(f.fileno()).st_size
        if len(head) < HEADER.size or head[:8] != MAGIC:
            raise ValueError(f'{file} is not a packed-paths file')
        _, stored, count, nbytes, crc = HEADER.unpack(head)
        if key is not None and stored != key:
            raise ValueError(f'{file} was written for other content')
        if size != HEADER.size + 8 * count + nbytes:
            raise ValueError(
                f'{file} is {size} bytes, its header says '
                f'{HEADER.size + 8 * count + nbytes} (truncated or partly '
                'written)')
        ends = np.memmap(file, '<i8', 'r', HEADER.size, (count, )) \
            if count else np.zeros(0, np.int64)
        data = np.memmap(file, np.uint8, 'r', HEADER.size + 8 * count,
                         (nbytes, )) if nbytes else np.zeros(0, np.uint8)
        if zlib.crc32(data, zlib.crc32(ends)) != crc:
            raise ValueError(f'{file} does not match its CRC-32 (altered '
                             'or corrupted)')
        return cls(data, ends)

    def __reduce__(self):
        file = _mapped_file(self.data)
        if file is not None and _mapped_file(self.ends) == file:
            return PackedPaths.open_file, (file, )
        return PackedPaths, (self.data, self.ends)

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
