"""The progress record of a resumable scene run.

Next to the output ``OUT`` a folder ``OUT.parts/`` holds ``progress.json``
(the run's signature: scene, model, window and band options) and one file
per finished window row, each written under a temporary name and renamed
once complete, so a file with a final name is always whole. A run killed at
any point and restarted with the same signature skips the rows that have
their file; a different signature is an error (another run's parts are
never mixed in). The output itself is assembled from the parts under a
temporary name and renamed to ``OUT`` when whole; then the folder goes.
"""
import json
import os
import os.path as osp
import re
import shutil
from typing import Dict, List, Optional

_ROW = re.compile(r'^row(\d{6})(?:_.*)?\.(tif|npz)$')


def _atomic_json(path: str, data: dict) -> None:
    tmp = f'{path}.tmp'
    with open(tmp, 'w') as f:
        json.dump(data, f, indent=1, sort_keys=True)
    os.replace(tmp, path)


class SceneProgress:
    """``OUT.parts/``: the signature and the finished rows of a run.

    Args:
        out_file (str): the output the parts are assembled into.
        signature (dict): JSON-able description of the run; a restart must
            give an equal one.
    """

    def __init__(self, out_file: str, signature: dict):
        self.out_file = out_file
        self.root = f'{out_file}.parts'
        self.signature = json.loads(json.dumps(signature))
        record = osp.join(self.root, 'progress.json')
        if osp.isfile(record):
            with open(record) as f:
                old = json.load(f)
            if old != self.signature:
                keys = sorted(k for k in set(old) | set(self.signature)
                              if old.get(k) != self.signature.get(k))
                raise ValueError(
                    f'{self.root} holds the parts of another run of '
                    f'{out_file} (differing: {", ".join(keys)}): rerun the '
                    'same command to resume it, or delete the folder (or '
                    'choose another --out) to start afresh')
        else:
            os.makedirs(self.root, exist_ok=True)
            _atomic_json(record, self.signature)
        for name in os.listdir(self.root):  # a killed run's half-written
            if '.tmp' in name:
                os.remove(osp.join(self.root, name))
        self.rows: Dict[int, str] = {}
        for name in os.listdir(self.root):
            match = _ROW.match(name)
            if match:
                self.rows[int(match.group(1))] = osp.join(self.root, name)

    def done(self, row: int) -> bool:
        return row in self.rows

    def tmp_path(self, row: int, ext: str) -> str:
        return osp.join(self.root, f'row{row:06d}.tmp.{ext}')

    def commit(self, row: int, tmp: str, tag: str = '') -> str:
        """Give a whole row file its final name."""
        ext = tmp.rsplit('.', 1)[1]
        final = osp.join(self.root, f'row{row:06d}{tag}.{ext}')
        os.replace(tmp, final)
        self.rows[row] = final
        return final

    def files(self) -> List[str]:
        return [self.rows[r] for r in sorted(self.rows)]

    def assembly_path(self, ext: str) -> str:
        """Temporary name of the output while it is assembled."""
        return osp.join(self.root, f'assembled.tmp.{ext}')

    def finish(self, assembled: Optional[str] = None) -> None:
        """Rename the assembled output to ``out_file``; drop the parts."""
        if assembled is not None:
            os.replace(assembled, self.out_file)
        shutil.rmtree(self.root)
