"""s5_mm.datasets.checks.seg_labels: the size and value rules of a label
map, checked on hand-made arrays."""
import numpy as np

from s5_mm.datasets.checks.seg_labels import (Problem, seg_label_problems,
                                              size_problem, value_problem)


def test_size_problem_compares_height_and_width_only():
    assert size_problem((4, 6), (4, 6, 3), 'l.png', 'i.png') is None
    problem = size_problem((4, 6), (6, 4, 3), 'l.png', 'i.png')
    assert problem.rule == 'size_mismatch'
    assert 'label l.png is 6x4 (WxH)' in problem.message
    assert 'its image i.png is 4x6' in problem.message


def test_value_problem_lists_the_bad_values_and_pixels():
    label = np.array([[0, 1, 2], [255, 5, 7], [7, 2, 1]], np.uint8)
    assert value_problem(label, 8, 255, 'l.png') is None
    problem = value_problem(label, 3, 255, 'l.png', 'reduce_zero_label=True')
    assert problem.rule == 'label_value'
    # 5 once, 7 twice; 255 is the ignore index
    assert 'values [5, 7] (3 pixels, reduce_zero_label=True)' in \
        problem.message
    assert '(0..2, num_classes=3)' in problem.message
    assert 'ignore index 255' in problem.message
    # 255 is a bad value when another value is the ignore index
    problem = value_problem(label, 3, 0, 'l.png')
    assert 'values [5, 7, 255] (4 pixels)' in problem.message


def test_value_problem_shows_ten_values_at_most():
    label = np.arange(20, dtype=np.uint8).reshape(4, 5)
    problem = value_problem(label, 2, 255, 'l.png')
    assert f'values {list(range(2, 12)) + ["..."]} (18 pixels)' in \
        problem.message


def test_colour_label_is_refused():
    problem = value_problem(np.zeros((2, 2, 3), np.uint8), 3, 255, 'c.png')
    assert problem.rule == 'label_not_single_channel'
    assert 'shape (2, 2, 3)' in problem.message


def test_all_problems_of_one_label():
    label = np.full((2, 3), 9, np.uint8)
    problems = seg_label_problems(label, (3, 3, 3), 4, 255, 'l.png', 'i.png')
    assert [p.rule for p in problems] == ['size_mismatch', 'label_value']
    assert all(isinstance(p, Problem) for p in problems)
    # no image shape: the size rule is skipped
    assert [p.rule for p in seg_label_problems(label, None, 4, 255,
                                               'l.png')] == ['label_value']
    assert seg_label_problems(label, (2, 3), 10, 255, 'l.png') == []
