"""One settings object: tool flags, hook arguments and meta.json share
their defaults (issue 21 item 5); the hook's side is in
tests/test_engine/test_hooks/test_entropy_diversity_selector_hook.py."""
import dataclasses
import json
import os.path as osp

import pytest

from s5_mm.selection.settings import SelectionSettings


@pytest.fixture
def select_data(monkeypatch):
    monkeypatch.syspath_prepend('tools')
    import select_data
    return select_data


def test_tool_defaults_are_the_dataclass_defaults(select_data):
    args = select_data.parse_args(['all', 'c.py', 'k.pth', '--work-dir', 'w',
                                   '--pool-root', 'p', '--num-clusters', '3',
                                   '--budget', '5'])
    s = SelectionSettings.from_args(args)
    assert s == SelectionSettings(num_clusters=3, budget=5)
    assert s.num_workers == 4 and s.shard_size == 1000 and s.gpu == 'auto'
    assert s.faiss_gpu is None and s.normalize
    args = select_data.parse_args(['cluster', '--work-dir', 'w',
                                   '--num-clusters', '2', '--no-normalize',
                                   '--gpu', 'off'])
    s = SelectionSettings.from_args(args)
    assert (s.num_clusters, s.normalize, s.faiss_gpu) == (2, False, False)
    # the flags of each step are the dataclass fields of that step
    steps = {f.metadata['step'] for f in dataclasses.fields(s)}
    assert steps == {'score', 'cluster', 'select'}


@pytest.mark.parametrize('bad', [dict(on_error='ignore'), dict(budget=0),
                                 dict(quota_mode='x'), dict(shard_size=0),
                                 dict(gpu='maybe')])
def test_invalid_settings_are_named(bad):
    with pytest.raises(ValueError, match=list(bad)[0]):
        SelectionSettings(**bad)


def test_required_settings(tmp_path):
    with pytest.raises(ValueError, match=r"\['budget'\] must be set"):
        SelectionSettings(num_clusters=2).require('num_clusters', 'budget')


def test_meta_json_holds_the_resume_keys(seg_demo_scored):
    meta = json.load(open(osp.join(seg_demo_scored[0], 'unlabeled',
                                   'meta.json')))
    keys = SelectionSettings(shard_size=8).resume_keys()
    assert keys == dict(shard_size=8, feature_module='backbone',
                        feature_index=-1)
    assert {k: meta[k] for k in keys} == keys
