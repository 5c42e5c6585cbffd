"""Write a dataset-check report: ``report.json`` and a class histogram."""
import json
import os.path as osp
from typing import List

from matplotlib.figure import Figure
from mmengine.utils import mkdir_or_exist

from s5_mm.selection.io import atomic_open


def report_lines(report: dict) -> List[str]:
    """One line per dataset, then one per error (file, rule, message) and
    per warning."""
    datasets = report['datasets']
    lines = [
        f"{key}: {d['samples']} samples, {len(d['errors'])} errors, "
        f"{len(d['warnings'])} warnings ({d['type']}, {d['where']})"
        for key, d in datasets.items()
    ]
    for level, kind in (('ERROR', 'errors'), ('WARNING', 'warnings')):
        lines += [f"{level} {f['rule']} {f['file']}: {f['message']}"
                  for d in datasets.values() for f in d[kind]]
    return lines


def write_report(report: dict, out_dir: str) -> List[str]:
    """Write ``report.json`` and ``class_histogram.png`` (one panel per
    labeled dataset, log scale) into ``out_dir``; returns their paths."""
    mkdir_or_exist(out_dir)
    json_path = osp.join(out_dir, 'report.json')
    with atomic_open(json_path, 'w', encoding='utf-8') as f:
        json.dump(report, f, indent=2)
    labeled = {k: d for k, d in report['datasets'].items()
               if d.get('class_counts')}
    if not labeled:
        return [json_path]
    # a Figure of its own: no pyplot state, the caller's backend is left as is
    fig = Figure(figsize=(10, 2.8 * len(labeled)))
    axes = fig.subplots(len(labeled), 1, squeeze=False)
    for ax, (key, d) in zip(axes[:, 0], labeled.items()):
        names = list(d['class_counts'])
        ax.bar(range(len(names)),
               [max(v, 0) for v in d['class_counts'].values()])
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=45, ha='right', fontsize=7)
        ax.set_yscale('symlog')
        unit = 'pixels' if d['kind'] == 'seg' else 'objects'
        heads = ', '.join(f'{k}={v}' for k, v in d.get('heads', {}).items())
        ax.set_title(f"{key}: {unit} per class ({len(names)} classes"
                     f"{'; heads ' + heads if heads else ''})", fontsize=8)
    fig.tight_layout()
    png_path = osp.join(out_dir, 'class_histogram.png')
    with atomic_open(png_path, 'wb') as f:
        fig.savefig(f, dpi=80, format='png')
    return [json_path, png_path]
