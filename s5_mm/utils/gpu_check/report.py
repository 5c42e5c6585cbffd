"""The GPU check's table and verdict."""
from typing import Any, Dict

_COLUMNS = ('path', 'status', 'it/s', 'peak MB', 'finite', 'loss scale',
            'reason')


def _cell(result: Dict[str, Any], column: str) -> str:
    value = dict(status=result.get('status'),
                 reason=result.get('reason', ''))
    value['it/s'] = result.get('iters_per_s')
    value['peak MB'] = result.get('peak_gpu_mem_mb')
    value['finite'] = result.get('losses_finite')
    scale = result.get('loss_scale')
    value['loss scale'] = None if scale is None else \
        '%g..%g' % tuple(scale)
    text = value[column]
    if text is None or text == '':
        return '-'
    text = str(text)  # the whole reason is in the JSON report
    return text if len(text) <= 90 else text[:87] + '...'


def format_table(report: Dict[str, Any]) -> str:
    """One line of environment, then one row per path."""
    env = report['environment']
    gpus = ', '.join(g['name'] for g in env['gpus']) or 'none'
    head = (f"torch {env['torch']} (CUDA {env['cuda']}), GPUs: {gpus}, "
            f"mmcv {env['mmcv']['version']} CUDA ops: "
            f"{env['mmcv'].get('cuda_ops')}, faiss GPUs: "
            f"{env['faiss'].get('gpus', 0)}, NCCL: {env['nccl']}, "
            f"device: {env['device']}")
    rows = [_COLUMNS] + [(name, ) + tuple(
        _cell(result, c) for c in _COLUMNS[1:])
                         for name, result in report['paths'].items()]
    widths = [max(len(r[i]) for r in rows) for i in range(len(_COLUMNS))]
    lines = ['  '.join(c.ljust(w) for c, w in zip(r, widths)).rstrip()
             for r in rows]
    lines.insert(1, '  '.join('-' * w for w in widths))
    return '\n'.join([head] + lines)


def has_failures(report: Dict[str, Any]) -> bool:
    """True when a path that should work on this machine failed."""
    return any(r['status'] == 'failed' for r in report['paths'].values())
