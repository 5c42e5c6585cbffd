"""Rules for oriented-box labels: DOTA ``labelTxt`` files and DIOR-R XMLs.

Each function returns the class name of every object and the list of
problems, so ``StrictDOTAv2Dataset`` / ``StrictDIORDataset`` can raise the
first and ``tools/analysis_tools/check_dataset.py`` can list them all and
count the classes. The rules (docs/datasets.md):

- coordinates are finite numbers, a DOTA difficulty a whole number >= 0;
- class names are compared as mmrotate's loaders compare them: DOTA names
  exactly, DIOR-R names after lower-casing (``Expressway-Service-area``
  is ``expressway-service-area``) but with surrounding whitespace kept
  (``'golffield '`` is not a class);
- a box lies inside its image within ``tolerance`` (1 px); a box marked
  truncated (difficulty 2, as mmrotate's split tool marks objects cut at
  a patch border) may reach out by half its own width / height more: the
  tool keeps an object when at least ``iof_thr`` = 70 % of its area lies
  in the patch, and its corners are kept as they were;
- DOTA's raw header lines (``imagesource:``, ``gsd:``) are refused: raw
  scenes are split first (the split tool drops them), as mmrotate's
  loader, which cannot read them either, expects.
"""
import math
import xml.etree.ElementTree as ET
from typing import List, Optional, Sequence, Tuple

from s5_mm.datasets.checks.seg_labels import Problem

DIOR_CORNERS = ('x_left_top', 'y_left_top', 'x_right_top', 'y_right_top',
                'x_right_bottom', 'y_right_bottom', 'x_left_bottom',
                'y_left_bottom')
#: DOTA difficulty of an object the split tool cut at a patch border
TRUNCATED = 2
#: how far (fraction of its own extent) a truncated box may reach out
TRUNCATED_MARGIN = 0.5
DOTA_HEADERS = ('imagesource:', 'gsd:')


def box_outside_problem(coords: Sequence[float],
                        image_wh: Optional[Tuple[int, int]], where: str,
                        tolerance: float = 1.0,
                        truncated: bool = False) -> Optional[Problem]:
    """A box with a corner more than ``tolerance`` pixels outside the image
    (plus half the box's width / height when ``truncated``)."""
    if image_wh is None:
        return None
    w, h = image_wh
    xs, ys = coords[0::2], coords[1::2]
    mx = tolerance + (TRUNCATED_MARGIN * (max(xs) - min(xs))
                      if truncated else 0.)
    my = tolerance + (TRUNCATED_MARGIN * (max(ys) - min(ys))
                      if truncated else 0.)
    if min(xs) >= -mx and min(ys) >= -my and \
            max(xs) <= w + mx and max(ys) <= h + my:
        return None
    allowed = (f'{tolerance:g} px' if not truncated else
               f'{tolerance:g} px + half the box size for a truncated '
               f'(difficulty {TRUNCATED}) box')
    return Problem(
        'box_outside_image',
        f'box outside the image in {where}: corners x {list(xs)}, y '
        f'{list(ys)} but the image is {w}x{h} (allowed: {allowed}; fix the '
        'box, or pair the label with its image)')


def _non_finite(coords: Sequence[float], where: str) -> Optional[Problem]:
    if all(math.isfinite(c) for c in coords):
        return None
    return Problem('non_finite_box',
                   f'non-finite coordinate (nan / inf) in {where}: fix or '
                   'remove the object')


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
        if line.lstrip().startswith(DOTA_HEADERS):
            problems.append(Problem(
                'dota_header',
                f'raw DOTA header line in {where}: s5_mm reads split DOTA '
                "labels only. Split the scenes with mmrotate's "
                'tools/data/dota/split/img_split.py (it drops the '
                'imagesource / gsd lines), as mmrotate\'s loader expects'))
            continue
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
            difficulty = int(fields[9])
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
        if difficulty < 0:
            problems.append(Problem(
                'bad_difficulty',
                f'negative difficulty {difficulty} in {where}: DOTA '
                'difficulties are 0 (easy), 1 (difficult) and 2 (cut at a '
                'patch border by the split tool)'))
        problem = _non_finite(coords, where) or box_outside_problem(
            coords, image_wh, where, truncated=difficulty == TRUNCATED)
        if problem is not None:
            problems.append(problem)
    return names, problems


def dior_class_name(name: Optional[str]) -> Optional[str]:
    """A DIOR-R ``<name>`` as mmrotate's ``DIORDataset`` looks it up
    (lower-cased, whitespace kept)."""
    return None if name is None else name.lower()


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
        tuple: the class of every object as mmrotate looks it up
        (lower-cased ``<name>``; '' if it has none) and the problems.
    """
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as e:
        return [], [Problem('malformed_line',
                           f'cannot parse DIOR-R annotation {path}: {e}')]
    known = set(classes)
    problems, names = [], []
    for number, obj in enumerate(root.findall('object'), 1):
        raw = obj.findtext('name')
        names.append(dior_class_name(raw) or '')
        where = f'{path}, object {number} (<name>{raw}</name>)'
        box = obj.find('robndbox')
        try:
            coords = [float(box.findtext(k)) for k in DIOR_CORNERS]
        except (AttributeError, TypeError, ValueError):
            problems.append(Problem(
                'malformed_line',
                f'malformed object in {where}: needs <name> and <robndbox> '
                f'with {", ".join(DIOR_CORNERS)} as numbers'))
            continue
        if dior_class_name(raw) not in known:
            hint = ''
            if raw is not None and raw.strip().lower() in known:
                hint = (' (surrounding whitespace: mmrotate compares names '
                        'after lower-casing only; remove the spaces)')
            problems.append(Problem(
                'unknown_class',
                f'unknown class {raw!r} in {where}{hint}: this dataset has '
                f'classes {list(classes)} (compared lower-cased)'))
        problem = _non_finite(coords, where) or box_outside_problem(
            coords, image_wh, where)
        if problem is not None:
            problems.append(problem)
    return names, problems
