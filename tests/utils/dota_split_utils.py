"""The raw DOTA scene P1888 (tests/data/dota_raw, with its header lines)
split into patches by mmrotate's own split tool, as a user prepares DOTA."""
import os.path as osp
import subprocess
import sys

RAW = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'data',
               'dota_raw')


def split_tool() -> str:
    """mmrotate's tools/data/dota/split/img_split.py, as installed (mim
    ships it under mmrotate/.mim)."""
    import mmrotate
    return osp.join(osp.dirname(mmrotate.__file__), '.mim', 'tools', 'data',
                    'dota', 'split', 'img_split.py')


def split_p1888(out: str, size: int = 256, gap: int = 64) -> str:
    """Split P1888 into ``size`` px patches overlapping by ``gap``; returns
    ``out`` holding ``images/`` and ``annfiles/``."""
    subprocess.run(
        [sys.executable, split_tool(), '--img-dirs',
         osp.join(RAW, 'images'), '--ann-dirs', osp.join(RAW, 'labelTxt'),
         '--sizes', str(size), '--gaps', str(gap), '--nproc', '1',
         '--save-dir', str(out)],
        check=True, capture_output=True, timeout=300)
    return str(out)
