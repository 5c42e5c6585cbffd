"""Check the datasets of a config before training on them.

    python tools/analysis_tools/check_dataset.py CONFIG [--split train|val|test]
        [--dataset NAME] [--workers N] [--strict] [--out DIR]

Walks every dataset of the config (inside ConcatDataset, multi-dataset and
semi-supervised configs, labeled and unlabeled) and lists, per file, every
broken rule: unreadable images, labels whose size differs from the image's,
label values outside [0, num_classes) and the ignore index (after
reduce_zero_label / label_map), heads whose num_classes differ from the
dataset's, malformed DOTA / DIOR-R labels, boxes outside the image and
unknown class names, non-finite coordinates, negative difficulties, images
the pipeline's LoadImageChecked would refuse (bit depth, band count); warns
about images without objects / labeled pixels, DOTA images without a label
file (errors with --strict) and classes that never occur. Writes
DIR/report.json and
DIR/class_histogram.png (default DIR: work_dirs/check_dataset/<config>).
Exits 1 if there is any error (see s5_mm/datasets/checks/).
"""
import argparse
import logging
import os.path as osp
import sys

import s5_mm  # noqa: F401  (registers s5_mm components)
from mmengine.config import Config, DictAction
from mmengine.logging import print_log

from s5_mm.datasets.checks.dataset_checker import check_config
from s5_mm.datasets.checks.report import report_lines, write_report


def parse_args():
    parser = argparse.ArgumentParser(description='Check the datasets of a '
                                     'config')
    parser.add_argument('config', help='config file')
    parser.add_argument('--split', choices=['train', 'val', 'test'],
                        help='check only this split (default: all)')
    parser.add_argument('--dataset', help='check only the dataset(s) of this '
                        'name (SetDatasetName name or dataset type)')
    parser.add_argument('--workers', type=int, default=1,
                        help='worker processes (default 1)')
    parser.add_argument('--strict', action='store_true',
                        help='images without a label file are errors '
                        '(default: one warning with their count)')
    parser.add_argument('--out', help='output folder for report.json and '
                        'class_histogram.png')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value')
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'config file not found: {args.config}')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    out = args.out or osp.join('work_dirs', 'check_dataset',
                               osp.splitext(osp.basename(args.config))[0])
    report = check_config(cfg, args.split, args.dataset, args.workers,
                          strict=args.strict)
    report['config'] = args.config
    paths = write_report(report, out)
    for line in report_lines(report):
        level = logging.ERROR if line.startswith('ERROR') else logging.INFO
        print_log(line, logger='current', level=level)
    print_log(f"{report['errors']} errors, {report['warnings']} warnings; "
              f"written {', '.join(paths)}", logger='current')
    return 0 if report['ok'] else 1


if __name__ == '__main__':
    sys.exit(main())
