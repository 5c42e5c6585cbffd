"""Cost of LoadAnnotationsChecked' checks against mmseg's LoadAnnotations.

Loads the three bundled LoveDA labels (1024x1024) many times with each
transform, interleaved, and prints the time ratio (goal: <= 1.05). The
last line is a JSON object.

    python bench/label_check_cost.py [--repeats 30]
"""
import argparse
import glob
import json
import time

import s5_mm  # noqa: F401
from mmseg.datasets.transforms import LoadAnnotations

from s5_mm.datasets.transforms import LoadAnnotationsChecked


def timed(transform, labels, repeats):
    start = time.perf_counter()
    for _ in range(repeats):
        for path in labels:
            transform(dict(seg_map_path=path, img_path=path,
                           ori_shape=(1024, 1024), reduce_zero_label=True,
                           seg_fields=[]))
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeats', type=int, default=30)
    args = parser.parse_args()
    labels = sorted(glob.glob('tests/data/loveda/ann_dir/*.png'))
    plain = LoadAnnotations(reduce_zero_label=True)
    checked = LoadAnnotationsChecked(num_classes=7, reduce_zero_label=True)
    t_plain = t_checked = 0.0
    for _ in range(5):  # interleaved rounds, so load changes hit both
        t_plain += timed(plain, labels, args.repeats // 5)
        t_checked += timed(checked, labels, args.repeats // 5)
    n = len(labels) * (args.repeats // 5) * 5
    print(json.dumps(dict(
        loads=n, load_annotations_ms=round(1000 * t_plain / n, 3),
        load_annotations_checked_ms=round(1000 * t_checked / n, 3),
        ratio=round(t_checked / t_plain, 3), goal=1.05)))


if __name__ == '__main__':
    main()
