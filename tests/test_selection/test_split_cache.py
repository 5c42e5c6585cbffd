"""The split's packed paths mapped from a node-local cache file (issue 26
item 2): same paths as the raw file says, pages shared between processes,
no stale or broken cache used, pickled as the file name."""
import logging
import multiprocessing
import os
import os.path as osp
import pickle
import tempfile

import numpy as np
import pytest
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS

from s5_mm.selection.packed_paths import PackedPaths
from s5_mm.selection.split_cache import map_split
from s5_mm.selection.split_file import read_split

UNLABELED = 'tests/data/unlabeled'
# BOM, CRLF, a lone CR, comments, blank lines, white space, unicode names,
# './' and '//' spellings, an absolute path, no break after the last line
RAW = ('\ufeff# selected by tools/select_data.py\r\n'
       'a/0001.jpg\r\n'
       '\r\n'
       '   # indented comment\n'
       '  b/zürich 2.png \t\n'
       './c//東京.tif\r'
       '/abs/root/d.jpg\n'
       '\n'
       'e/x#y.jpg').encode('utf-8')
WANT = [
    'a/0001.jpg', 'b/zürich 2.png', 'c/東京.tif', '/abs/root/d.jpg', 'e/x#y.jpg'
]


@pytest.fixture
def records():
    """Messages logged to the current MMLogger during the test."""
    logger = MMLogger.get_current_instance()
    got = []
    handler = type('H', (logging.Handler, ),
                   dict(emit=lambda self, r: got.append(r.getMessage())))()
    logger.addHandler(handler)
    yield got
    logger.removeHandler(handler)


def _split(tmp_path, raw=RAW, name='split.txt'):
    path = tmp_path / name
    path.write_bytes(raw)
    return str(path)


def test_mapped_paths_are_the_raw_files_lines(tmp_path):
    cache = str(tmp_path / 'cache')
    paths = map_split(_split(tmp_path), cache_dir=cache)
    assert list(paths) == WANT and len(paths) == 5
    assert [paths[i] for i in (-1, 2)] == ['e/x#y.jpg', 'c/東京.tif']
    # the packed layout, by hand: UTF-8 bytes concatenated, int64 ends
    encoded = [p.encode('utf-8') for p in WANT]
    assert paths.data.tobytes() == b''.join(encoded)
    assert paths.ends.tolist() == np.cumsum([len(b) for b in encoded]).tolist()
    assert paths.ends.dtype == np.int64
    # both arrays are read-only maps of one file in the cache folder
    for arr in (paths.data, paths.ends):
        assert isinstance(arr, np.memmap) and not arr.flags.writeable
        assert osp.dirname(arr.filename) == cache
    assert os.listdir(cache) == [osp.basename(paths.data.filename)]
    umask = os.umask(0o022)
    os.umask(umask)  # readable as an open()ed file is, not mkstemp's 0o600
    assert os.stat(paths.data.filename).st_mode & 0o777 == 0o666 & ~umask
    assert osp.getsize(
        paths.data.filename) == 64 + 5 * 8 + sum(len(b) for b in encoded)
    assert paths == read_split(_split(tmp_path))  # same as in memory


def _mapped_kb(file):
    """Rss and Pss (kB) of this process's mappings of ``file``."""
    rss = pss = 0
    inside = False
    with open('/proc/self/smaps') as f:
        for line in f:
            head = line.split()
            if '-' in head[0] and len(head) >= 5:  # a mapping's first line
                inside = len(head) == 6 and head[5] == file
            elif inside and head[0] in ('Rss:', 'Pss:'):
                kb = int(head[1])
                rss += kb if head[0] == 'Rss:' else 0
                pss += kb if head[0] == 'Pss:' else 0
    return rss, pss


def _hold_and_measure(split, cache, mapped, done, out):
    """A second process (a rank): map, report, keep the map until done."""
    paths = map_split(split, cache_dir=cache)
    out.put((paths.data.filename, _mapped_kb(paths.data.filename)))
    mapped.set()
    done.wait(60)


@pytest.mark.skipif(not osp.exists('/proc/self/smaps'),
                    reason='needs Linux /proc/PID/smaps')
def test_two_processes_share_the_pages(tmp_path):
    """Another process maps the same file; each page counts half in the
    proportional set size of each (Pss = Rss / 2)."""
    n = 50_000
    split = _split(tmp_path,
                   ''.join(f'p/{i:08d}.jpg\n' for i in range(n)).encode())
    cache = str(tmp_path / 'cache')
    size_kb = (64 + 8 * n + 14 * n) / 1024
    ctx = multiprocessing.get_context('fork')  # forked before any map
    mapped, done, out = ctx.Event(), ctx.Event(), ctx.Queue()
    child = ctx.Process(target=_hold_and_measure,
                        args=(split, cache, mapped, done, out))
    child.start()
    try:
        assert mapped.wait(60)
        file, (c_rss, c_pss) = out.get(timeout=10)
        assert c_rss >= size_kb - 8 and c_pss >= c_rss - 8  # alone
        paths = map_split(split, cache_dir=cache)  # the cache it built
        assert paths.data.filename == file
        assert list(paths[:2]) == ['p/00000000.jpg', 'p/00000001.jpg']
        rss, pss = _mapped_kb(file)
        assert rss >= size_kb - 8
        assert abs(pss - rss / 2) <= 8  # shared with the child
    finally:
        done.set()
        child.join(60)
    assert child.exitcode == 0
    assert os.listdir(cache) == [osp.basename(file)]


def test_changed_split_is_never_served_stale(tmp_path):
    cache = str(tmp_path / 'cache')
    split = _split(tmp_path, b'a/1.jpg\nb/2.jpg\n')
    assert list(map_split(split, cache_dir=cache)) == ['a/1.jpg', 'b/2.jpg']
    stat = os.stat(split)
    with open(split, 'r+b') as f:  # same size, same mtime, other content
        f.seek(8)
        f.write(b'c')
    os.utime(split, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert os.stat(split).st_size == stat.st_size
    assert list(map_split(split, cache_dir=cache)) == ['a/1.jpg', 'c/2.jpg']
    with open(split, 'r+b') as f:  # truncated
        f.truncate(8)
    assert list(map_split(split, cache_dir=cache)) == ['a/1.jpg']
    assert len(os.listdir(cache)) == 3  # one cache per content


@pytest.mark.parametrize('damage', ['truncate', 'flip', 'header'])
def test_broken_cache_is_detected_and_rebuilt(tmp_path, records, damage):
    cache = str(tmp_path / 'cache')
    split = _split(tmp_path)
    file = map_split(split, cache_dir=cache).data.filename
    size = osp.getsize(file)
    with open(file, 'r+b') as f:
        if damage == 'truncate':
            f.truncate(size - 3)
        elif damage == 'flip':  # one byte of a path
            f.seek(size - 2)
            f.write(b'Y')
        else:
            f.write(b'NOTPATHS')
    with pytest.raises(ValueError, match=osp.basename(file)):
        PackedPaths.open_file(file)
    assert list(map_split(split, cache_dir=cache)) == WANT
    assert osp.getsize(file) == size
    assert PackedPaths.open_file(file) == WANT  # rebuilt in place
    said = [r for r in records if file in r and 'rebuilding' in r]
    assert said and {
        'truncate': 'truncated',
        'flip': 'CRC-32',
        'header': 'not a packed-paths'
    }[damage] in said[0]


def _race(split, cache, out):
    paths = map_split(split, cache_dir=cache)
    assert len(paths) == 100_000 and paths[-1] == 'p/00099999.jpg'
    with open('/proc/self/maps') as f:  # the inode this process maps
        out.put({
            ln.split()[4]
            for ln in f if ln.split()[-1] == paths.data.filename
        })


@pytest.mark.skipif(not osp.exists('/proc/self/maps'),
                    reason='needs Linux /proc/PID/maps')
def test_racing_ranks_map_one_file(tmp_path):
    """Four processes build the same split's cache at once: one file, no
    temporary file left, every process maps the same inode."""
    n = 100_000
    split = _split(tmp_path,
                   ''.join(f'p/{i:08d}.jpg\n' for i in range(n)).encode())
    cache = str(tmp_path / 'cache')
    ctx = multiprocessing.get_context('fork')
    out = ctx.Queue()
    procs = [
        ctx.Process(target=_race, args=(split, cache, out)) for _ in range(4)
    ]
    for p in procs:
        p.start()
    inodes = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0] * 4
    names = os.listdir(cache)
    assert len(names) == 1 and names[0].endswith('.paths')
    assert inodes == [{str(os.stat(osp.join(cache, names[0])).st_ino)}] * 4


def test_unusable_cache_dir_warns_and_keeps_memory(tmp_path, records):
    not_a_dir = tmp_path / 'file'
    not_a_dir.write_text('x')
    paths = map_split(_split(tmp_path), cache_dir=str(not_a_dir))
    assert list(paths) == WANT and not isinstance(paths.data, np.memmap)
    assert any(str(not_a_dir) in r and 'S5_MM_CACHE_DIR' in r for r in records)
    with pytest.raises(FileNotFoundError, match='absent.txt'):
        map_split(str(tmp_path / 'absent.txt'), cache_dir=str(tmp_path))
    with pytest.raises(ValueError, match='line 3.*listed twice'):
        map_split(_split(tmp_path, b'a.jpg\nb.jpg\n./a.jpg\n', 'dup.txt'),
                  cache_dir=str(tmp_path / 'c2'))
    kept = map_split(str(tmp_path / 'dup.txt'),
                     keep_duplicates=True,
                     cache_dir=str(tmp_path / 'c2'))
    assert list(kept) == ['a.jpg', 'b.jpg', 'a.jpg']


def test_pickle_reopens_the_map(tmp_path):
    n = 20_000
    split = _split(tmp_path,
                   ''.join(f'p/{i:08d}.jpg\n' for i in range(n)).encode())
    paths = map_split(split, cache_dir=str(tmp_path / 'cache'))
    blob = pickle.dumps(paths)
    assert len(blob) < 400  # the file name, not the 360 kB of arrays
    back = pickle.loads(blob)
    assert back == paths and back.data.filename == paths.data.filename
    assert isinstance(back.ends, np.memmap) and back[n - 1] == paths[n - 1]
    copied = PackedPaths(np.array(paths.data), np.array(paths.ends))
    assert len(pickle.dumps(copied)) > 14 * n  # in memory: the bytes
    assert pickle.loads(pickle.dumps(copied)) == paths
    sliced = PackedPaths(paths.data[:14], paths.ends[:1])  # not whole maps
    assert list(pickle.loads(pickle.dumps(sliced))) == ['p/00000000.jpg']


def _dataset(split, **kwargs):
    init_default_scope('mmseg')
    return DATASETS.build(
        dict(type='UnlabeledImageDataset',
             ann_file=split,
             data_root=UNLABELED,
             **kwargs))


def test_dataset_maps_pickles_and_names_the_line(tmp_path):
    split = _split(
        tmp_path,
        'aGrass/a001.jpg\r\n# c\r\naGrass/ñope.jpg\r\n'.encode('utf-8'))
    cache = str(tmp_path / 'cache')
    ds = _dataset(split,
                  cache_dir=cache,
                  pipeline=[dict(type='LoadImageFromFile')])
    assert isinstance(ds.data_bytes, np.memmap)
    assert osp.dirname(ds.data_address.filename) == cache
    assert ds[0]['img'].shape == (400, 400, 3)
    with pytest.raises(FileNotFoundError) as err:
        ds[1]
    assert f'{split}:3' in str(err.value)
    assert 'aGrass/ñope.jpg does not exist' in str(err.value)
    back = pickle.loads(pickle.dumps(ds))
    assert back.data_bytes.filename == ds.data_bytes.filename
    assert [back.get_data_info(i)['img_path'] for i in range(2)] == [
        osp.join(UNLABELED, 'aGrass/a001.jpg'),
        osp.join(UNLABELED, 'aGrass/ñope.jpg')
    ]
    memory = _dataset(split, map_paths=False)
    assert not isinstance(memory.data_bytes, np.memmap)
    assert np.array_equal(memory.data_bytes, ds.data_bytes)
    sub = ds.get_subset([1])  # a subset copies its items
    assert sub.get_data_info(0)['img_path'].endswith('ñope.jpg')
    assert pickle.loads(pickle.dumps(sub)).get_data_info(0) == \
        sub.get_data_info(0)


def test_default_cache_folder(tmp_path, monkeypatch):
    monkeypatch.setenv('S5_MM_CACHE_DIR', str(tmp_path / 'env'))
    paths = map_split(_split(tmp_path))
    assert osp.dirname(paths.data.filename) == str(tmp_path / 'env')
    monkeypatch.delenv('S5_MM_CACHE_DIR')
    monkeypatch.setattr(tempfile, 'tempdir', str(tmp_path / 'tmp'))
    os.mkdir(tmp_path / 'tmp')
    paths = map_split(_split(tmp_path))
    folder = osp.dirname(paths.data.filename)
    assert folder == str(tmp_path / 'tmp' / f's5_mm-splits-{os.getuid()}')
    assert os.stat(folder).st_mode & 0o777 == 0o700  # this user's only
