"""s5_mm.selection.report: the selection's two-panel PNG."""
import cv2
import numpy as np

from s5_mm.selection.report import plot_report



def _plot(path, fill):
    rng = np.random.default_rng(0)
    pool = rng.uniform(0.1, 1.9, 200)
    plot_report(str(path), pool, np.sort(pool)[:30], np.array([12, 10, 8]),
                np.asarray(fill), np.array([90, 70, 40]))
    return path.read_bytes()


def test_png_size_and_deterministic_bytes(tmp_path):
    first = _plot(tmp_path / 'a.png', [14, 10, 6])
    assert first[:8] == b'\x89PNG\r\n\x1a\n'
    # 11 x 4 inches at 80 dpi
    img = cv2.imread(str(tmp_path / 'a.png'))
    assert img.shape == (320, 880, 3)
    # red (tab:red, antialiased): the 3 quota markers and the legend's, in
    # the right panel only, each 12 px wide
    b, g, r = np.moveaxis(img.astype(int), -1, 0)
    red = np.nonzero(((r > 170) & (g < 110) & (b < 110)).any(0))[0]
    runs = np.split(red, np.nonzero(np.diff(red) > 1)[0] + 1)
    assert [len(x) for x in runs] == [12] * 4 and red.min() > 440
    assert _plot(tmp_path / 'b.png', [14, 10, 6]) == first
    assert _plot(tmp_path / 'c.png', [12, 10, 8]) != first
    assert sorted(p.name for p in tmp_path.iterdir()) == ['a.png', 'b.png',
                                                          'c.png']


def test_empty_pool_still_plots(tmp_path):
    empty = np.zeros(0)
    plot_report(str(tmp_path / 'e.png'), empty, empty, np.zeros(2),
                np.zeros(2), np.zeros(2))
    assert cv2.imread(str(tmp_path / 'e.png')).shape == (320, 880, 3)
