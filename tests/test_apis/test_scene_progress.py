"""s5_mm.apis.scene_progress.SceneProgress: rows committed under final
names survive a restart; half-written files and other runs do not."""
import json
import os

import pytest

from s5_mm.apis.scene_progress import SceneProgress


def test_resume_skips_committed_rows(tmp_path):
    out = str(tmp_path / 'scene.tif')
    sig = dict(scene='a.tif', window=512)
    progress = SceneProgress(out, sig)
    assert json.load(open(f'{out}.parts/progress.json')) == sig
    for row in (2, 0):
        tmp = progress.tmp_path(row, 'npz')
        open(tmp, 'w').write(str(row))
        final = progress.commit(row, tmp, tag='_x')
        assert final == f'{out}.parts/row{row:06d}_x.npz'
    open(progress.tmp_path(1, 'tif'), 'w').write('half')  # killed mid-write
    again = SceneProgress(out, dict(window=512, scene='a.tif'))
    assert [again.done(r) for r in range(3)] == [True, False, True]
    assert again.files() == [f'{out}.parts/row000000_x.npz',
                             f'{out}.parts/row000002_x.npz']
    assert sorted(os.listdir(f'{out}.parts')) == [
        'progress.json', 'row000000_x.npz', 'row000002_x.npz']
    assembled = again.assembly_path('tif')
    open(assembled, 'w').write('whole')
    again.finish(assembled)
    assert open(out).read() == 'whole'
    assert not os.path.exists(f'{out}.parts')


def test_another_runs_parts_are_refused(tmp_path):
    out = str(tmp_path / 'scene.tif')
    SceneProgress(out, dict(scene='a.tif', window=512, bands=[1, 2, 3]))
    with pytest.raises(ValueError, match=r'scene.tif.parts holds the parts of'
                       r' another run .*\(differing: bands, window\)'):
        SceneProgress(out, dict(scene='a.tif', window=256))
