"""s5_mm.datasets.label_png: labels and images written as PNG read back
unchanged by Pillow (as mmseg decodes labels) and OpenCV."""
import cv2
import numpy as np
import pytest
from PIL import Image

from s5_mm.datasets.label_png import write_image_png, write_label_png


def test_every_label_value_reads_back(tmp_path):
    label = np.arange(256, dtype=np.uint8).reshape(16, 16)
    path = str(tmp_path / 'a.png')
    write_label_png(path, label)
    back = np.asarray(Image.open(path))
    assert back.dtype == np.uint8 and back.shape == (16, 16)
    np.testing.assert_array_equal(back, label)
    assert not [p for p in tmp_path.iterdir() if p.name != 'a.png']


def test_label_must_be_2d_uint8(tmp_path):
    path = str(tmp_path / 'b.png')
    with pytest.raises(ValueError, match=r'b.png: a label map must be 2-D '
                       r'uint8, got shape \(2, 2\) dtype int64'):
        write_label_png(path, np.zeros((2, 2), np.int64))
    with pytest.raises(ValueError, match=r'shape \(2, 2, 3\)'):
        write_label_png(path, np.zeros((2, 2, 3), np.uint8))
    assert not (tmp_path / 'b.png').exists()


def test_image_is_written_rgb(tmp_path):
    rgb = np.zeros((3, 4, 3), np.uint8)
    rgb[..., 0] = 200  # red
    rgb[1, 2] = (1, 2, 3)
    path = str(tmp_path / 'c.png')
    write_image_png(path, rgb)
    np.testing.assert_array_equal(np.asarray(Image.open(path)), rgb)
    np.testing.assert_array_equal(cv2.imread(path)[..., ::-1], rgb)
