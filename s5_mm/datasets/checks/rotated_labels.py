"""Rules for oriented-box labels: DOTA ``labelTxt`` files and DIOR-R XMLs.

Each function returns the class name of every object and the list of
problems, so ``StrictDOTAv2Dataset`` can raise the first and
``tools/analysis_tools/check_dataset.py`` can list them all and count the
classes.
"""
import xml.etree.ElementTree as ET
from typing import List, Optional, Sequence, Tuple

from s5_mm.datasets.checks.seg_labels import Problem

DIOR_CORNERS = ('x_left_top', 'y_left_top', 'x_right_top', 'y_right_top',
                'x_right_bottom', 'y_right_bottom', 'x_left_bottom',
                'y_left_bottom')


def box_outside_problem(coords: Sequence[float],
                        image_wh: Optional[Tuple[int, int]], where: str,
                        tolerance: float = 1.0) -> Optional[Problem]:
    """A box with a corner more than ``tolerance`` pixels outside the image.
    """
    if image_wh is None:
        return None
    w, h = image_wh
    xs, ys = coords[0::2], coords[1::2]
    if min(xs) >= -tolerance and min(ys) >= -tolerance and \
            max(xs) <= w + tolerance and max(ys) <= h + tolerance:
        return None
    return Problem(
        'box_outside_image',
        f'box outside the image in {where}: corners x {list(xs)}, y '
        f'{list(ys)} but the image is {w}x{h} (fix the box, or pair the '
        'label with its image)')


def dota_label_problems(path: str,
                        classes: Sequence[str],
                        image_wh: Optional[Tuple[int, int]] = None
                        ) -> Tuple[List[Optional[str]], List[Problem]]:
    """Check every line of a DOTA label file (as written by mmrotate's split
    tool): ``x1 y1 x2 y2 x3 y3 x4 y4 class difficulty``.

    Args:
        path (str): the label (``.txt``) file.
        classes (Sequence[str]): the class names the dataset knows.
        image_wh (tuple, optional): (width, height) of the image, to find
            boxes outside it.

    Returns:
        tuple: the class field of every line (object; None if the line has
        none) and the problems, in line order.
    """
    known = set(classes)
    with open(path, encoding='utf-8') as f:
        lines = f.readlines()
    problems, names = [], []
    for number, line in enumerate(lines, 1):
        fields = line.split()
        names.append(fields[8] if len(fields) > 8 else None)
        where = f'{path}, line {number}: {line.rstrip()!r}'
        if len(fields) != 10:
            problems.append(Problem(
                'malformed_line',
                f'malformed DOTA label line in {where}: expected 10 fields '
                '"x1 y1 x2 y2 x3 y3 x4 y4 class difficulty", got '
                f'{len(fields)}. Split the raw DOTA files with mmrotate\'s '
                'tools/data/dota/split (which drops the imagesource/gsd '
                'header lines) or fix the line'))
            continue
        try:
            coords = list(map(float, fields[:8]))
            int(fields[9])
        except ValueError:
            problems.append(Problem(
                'malformed_line',
                f'malformed DOTA label line in {where}: the 8 coordinates '
                'must be numbers and the difficulty an integer'))
            continue
        if fields[8] not in known:
            problems.append(Problem(
                'unknown_class',
                f'unknown class {fields[8]!r} in {where}: this dataset has '
                f'classes {list(classes)} (check the DOTA version, or set '
                'metainfo=dict(classes=...))'))
        problem = box_outside_problem(coords, image_wh, where)
        if problem is not None:
            problems.append(problem)
    return names, problems


def dior_label_problems(path: str,
                        classes: Sequence[str],
                        image_wh: Optional[Tuple[int, int]] = None
                        ) -> Tuple[List[str], List[Problem]]:
    """Check a DIOR-R annotation XML (``robndbox`` objects) as mmrotate's
    ``DIORDataset`` reads it.

    Args:
        path (str): the ``.xml`` file.
        classes (Sequence[str]): the class names the dataset knows.
        image_wh (tuple, optional): (width, height) of the image.

    Returns:
        tuple: the ``<name>`` of every object ('' if it has none) and the
        problems.
    """
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as e:
        return [], [Problem('malformed_line',
                           f'cannot parse DIOR-R annotation {path}: {e}')]
    known = set(classes)
    problems = []
    objects = root.findall('object')
    for number, obj in enumerate(objects, 1):
        where = f'{path}, object {number}'
        name = obj.findtext('name')
        box = obj.find('robndbox')
        try:
            coords = [float(box.findtext(k)) for k in DIOR_CORNERS]
        except (AttributeError, TypeError, ValueError):
            problems.append(Problem(
                'malformed_line',
                f'malformed object in {where}: needs <name> and <robndbox> '
                f'with {", ".join(DIOR_CORNERS)} as numbers'))
            continue
        if name is None or name.strip() not in known:
            problems.append(Problem(
                'unknown_class',
                f'unknown class {name!r} in {where}: this dataset has classes '
                f'{list(classes)}'))
        problem = box_outside_problem(coords, image_wh, where)
        if problem is not None:
            problems.append(problem)
    return [(obj.findtext('name') or '').strip() for obj in objects], problems
