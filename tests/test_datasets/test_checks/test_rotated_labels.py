"""s5_mm.datasets.checks.rotated_labels: every rule of DOTA labelTxt lines
and DIOR-R XMLs on hand-written files, with the box margins computed here.
"""
from s5_mm.datasets.checks.rotated_labels import (box_outside_problem,
                                                  dior_class_name,
                                                  dior_label_problems,
                                                  dota_label_problems)

CLASSES = ('ship', 'harbor')


def test_box_outside_margins():
    # a 20 x 10 px box reaching 3 px out of the left border of 100 x 50
    box = [-3, 10, 17, 10, 17, 20, -3, 20]
    assert box_outside_problem(box, None, 'w') is None
    assert box_outside_problem(box, (100, 50), 'w', tolerance=3) is None
    problem = box_outside_problem(box, (100, 50), 'w')  # 1 px allowed
    assert problem.rule == 'box_outside_image'
    assert 'image is 100x50 (allowed: 1 px;' in problem.message
    # truncated: 1 px + half its width (10 px) in x, + 5 px in y
    assert box_outside_problem(box, (100, 50), 'w', truncated=True) is None
    far = [-12, 10, 8, 10, 8, 20, -12, 20]  # 12 px out > 11
    assert box_outside_problem(far, (100, 50), 'w', truncated=True).rule \
        == 'box_outside_image'
    low = [40, 44, 60, 44, 60, 56, 40, 56]  # 6 px below; h 12: 1 + 6 = 7
    assert box_outside_problem(low, (100, 50), 'w', truncated=True) is None
    assert box_outside_problem(low, (100, 50), 'w') is not None


def test_dota_lines(tmp_path):
    path = tmp_path / 'a.txt'
    path.write_text(
        'imagesource:GoogleEarth\n'                    # 1 header
        '10 10 20 10 20 20 10 20 ship 0\n'             # 2 fine
        '10 10 20 10 20 20 ship 0\n'                   # 3 8 fields
        '10 10 20 10 20 20 10 x ship 0\n'              # 4 not a number
        '10 10 20 10 20 20 10 20 boat 0\n'             # 5 unknown class
        '10 10 20 10 20 20 10 20 harbor -1\n'          # 6 difficulty
        'nan 10 20 10 20 20 10 20 ship 1\n'            # 7 nan
        '90 10 110 10 110 20 90 20 ship 0\n'           # 8 10 px out
        '95 10 105 10 105 20 95 20 ship 2\n')          # 9 truncated: 5 <= 6
    names, problems = dota_label_problems(str(path), CLASSES, (100, 100))
    assert names == [None, 'ship', None, 'ship', 'boat', 'harbor', 'ship',
                     'ship', 'ship']
    assert [(p.rule, p.message.split(': ')[0].split(', line ')[-1])
            for p in problems] == [
        ('dota_header', '1'), ('malformed_line', '3'),
        ('malformed_line', '4'), ('unknown_class', '5'),
        ('bad_difficulty', '6'), ('non_finite_box', '7'),
        ('box_outside_image', '8')]
    # no image size: the border rule is skipped
    _, problems = dota_label_problems(str(path), CLASSES)
    assert 'box_outside_image' not in {p.rule for p in problems}


def dior_xml(objects):
    corners = ('x_left_top', 'y_left_top', 'x_right_top', 'y_right_top',
               'x_right_bottom', 'y_right_bottom', 'x_left_bottom',
               'y_left_bottom')
    body = ''
    for name, coords in objects:
        box = ''.join(f'<{k}>{v}</{k}>' for k, v in zip(corners, coords))
        body += f'<object><name>{name}</name><robndbox>{box}</robndbox>' \
            '</object>'
    return f'<annotation>{body}</annotation>'


def test_dior_names_are_lower_cased_with_whitespace_kept(tmp_path):
    inside = (10, 10, 20, 10, 20, 20, 10, 20)
    path = tmp_path / 'a.xml'
    path.write_text(dior_xml([('Ship', inside), ('ship ', inside),
                              ('harbor', (10, 10, 90, 10, 90, 20, 10, 20)),
                              ('harbor', (10, 10, 'x', 10, 20, 20, 10, 20))]))
    names, problems = dior_label_problems(str(path), CLASSES, (80, 80))
    assert names == ['ship', 'ship ', 'harbor', 'harbor']
    assert [p.rule for p in problems] == ['unknown_class',
                                          'box_outside_image',
                                          'malformed_line']
    assert 'surrounding whitespace' in problems[0].message
    assert 'object 2' in problems[0].message
    assert dior_class_name('Expressway-Service-area') == \
        'expressway-service-area'
    assert dior_class_name(None) is None
    (tmp_path / 'b.xml').write_text('<annotation>')
    names, [problem] = dior_label_problems(str(tmp_path / 'b.xml'), CLASSES)
    assert names == [] and problem.rule == 'malformed_line'
    assert 'cannot parse DIOR-R annotation' in problem.message
