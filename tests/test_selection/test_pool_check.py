"""s5_mm.selection.pool_check: every image of a pool read and decoded once;
the bad ones named with their split-file line and reason."""
import logging
import os.path as osp
import shutil

from s5_mm.selection.pool_check import check_pool, unreadable_reason

UNLABELED = 'tests/data/unlabeled'
A = 'aGrass/a001.jpg'


class _Records(logging.Handler):

    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append((record.levelno, record.getMessage()))


def _logger():
    logger = logging.getLogger('test_pool_check')
    logger.handlers[:] = [_Records()]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger


def _pool(tmp_path):
    """good.jpg, bad.jpg (not a JPEG), empty.png (0 bytes)."""
    root = tmp_path / 'pool'
    (root / 'a').mkdir(parents=True)
    shutil.copy(osp.join(UNLABELED, A), root / 'a' / 'good.jpg')
    (root / 'a' / 'bad.jpg').write_bytes(b'\xff\xd8 truncated')
    (root / 'empty.png').write_bytes(b'')
    return root


def test_reason_of_each_kind_of_file(tmp_path):
    root = _pool(tmp_path)
    assert unreadable_reason(str(root / 'a' / 'good.jpg')) is None
    assert unreadable_reason(str(root / 'nope.jpg')) == 'does not exist'
    assert unreadable_reason(str(root / 'a' / 'bad.jpg')).startswith(
        'cannot be decoded')
    assert unreadable_reason(str(root / 'empty.png')).startswith(
        'cannot be decoded')


def test_whole_root_without_a_split_file(tmp_path):
    root = _pool(tmp_path)
    rejects = tmp_path / 'rejects.tsv'
    logger = _logger()
    bad = check_pool(str(root), rejects_file=str(rejects), logger=logger)
    assert [(p, n) for p, n, _ in bad] == [('a/bad.jpg', 0),
                                          ('empty.png', 0)]
    assert rejects.read_text() == ''.join(f'{p}\t0\t{r}\n' for p, _, r in bad)
    lines = logger.handlers[0].lines
    assert lines[0] == (logging.ERROR, f'{root}/a/bad.jpg {bad[0][2]} '
                        f'(listed on {root})')
    assert lines[-1] == (logging.INFO, f'{root}: 3 images, 2 cannot be '
                         f'loaded (all listed in {rejects})')


def test_split_file_lines_with_two_workers(tmp_path):
    root = _pool(tmp_path)
    split = tmp_path / 'split.txt'
    split.write_text('# c\na/good.jpg\n\na/missing.png\nempty.png\n')
    logger = _logger()
    bad = check_pool(str(root), str(split), workers=2, logger=logger)
    assert [(p, n) for p, n, _ in bad] == [('a/missing.png', 4),
                                          ('empty.png', 5)]
    assert bad[0][2] == 'does not exist'
    assert logger.handlers[0].lines[0] == (
        logging.ERROR, f'{root}/a/missing.png does not exist (listed on '
        f'{split}:4)')
    split.write_text('a/good.jpg\n')
    assert check_pool(str(root), str(split), logger=logger) == []
    assert logger.handlers[0].lines[-1] == (
        logging.INFO, f'{split}: 1 images, 0 cannot be loaded')


def test_check_step_names_bad_images_and_lines(tmp_path, monkeypatch):
    """tools/select_data.py check: every image read once, in parallel; the
    bad ones with their split-file lines; exit code 1."""
    monkeypatch.syspath_prepend('tools')
    import select_data
    root = tmp_path / 'pool'
    (root / 'a').mkdir(parents=True)
    (root / 'a' / 'bad.jpg').write_bytes(b'\xff\xd8 truncated')
    good = osp.abspath(osp.join(UNLABELED, A))
    split = tmp_path / 'split.txt'
    split.write_text(f'{good}\n# c\na/bad.jpg\na/missing.png\n{good[:-8]}'
                     'a002.jpg\n')
    work = tmp_path / 'w'
    rc = select_data.main(['check', '--pool-root', str(root), '--pool-list',
                           str(split), '--workers', '2', '--work-dir',
                           str(work)])
    assert rc == 1
    rows = [ln.split('\t') for ln in
            (work / 'rejects.tsv').read_text().splitlines()]
    assert [(r[0], r[1]) for r in rows] == [('a/bad.jpg', '3'),
                                           ('a/missing.png', '4')]
    assert rows[0][2].startswith('cannot be decoded')
    assert rows[1][2] == 'does not exist'
    split.write_text(f'{good}\n')
    assert select_data.main(['check', '--pool-root', str(root),
                             '--pool-list', str(split)]) == 0
