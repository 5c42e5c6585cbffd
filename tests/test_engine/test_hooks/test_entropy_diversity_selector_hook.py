"""EntropyDiversitySelectorHook: its settings are the tool's, its options
are checked when it is built, and it scores with the segmentor it is told
to. Selecting inside a training run, with the same split as the tool, is
tests/test_tools/test_select_data.py::
test_hook_in_training_writes_the_tools_split."""
import uuid

import pytest
import torch.nn as nn
from mmengine.model import BaseModel
from mmengine.runner import Runner

from s5_mm.engine.hooks import EntropyDiversitySelectorHook
from s5_mm.selection.settings import SelectionSettings


def test_hook_takes_the_same_settings():
    from s5_mm.engine.hooks.entropy_diversity_selector_hook import \
        EntropyDiversitySelectorHook
    hook = EntropyDiversitySelectorHook('p', 'l', budget=4, num_clusters=2,
                                        settings=dict(batch_size=3))
    assert hook.settings == SelectionSettings(budget=4, num_clusters=2,
                                              batch_size=3)
    with pytest.raises(KeyError, match=r"unknown selection setting.*"
                       r"'batchsize'"):
        EntropyDiversitySelectorHook('p', 'l', budget=4, num_clusters=2,
                                     settings=dict(batchsize=3))
    # a setting given twice is refused, not silently overridden
    with pytest.raises(KeyError, match=r"\['budget'\] given both"):
        EntropyDiversitySelectorHook('p', 'l', budget=4, num_clusters=2,
                                     settings=dict(budget=9))


@pytest.mark.parametrize('kwargs,message', [
    (dict(interval=-1), 'interval must be >= 0, got -1'),
    (dict(interval=0, after_training=False), 'would never run'),
])
def test_options_that_never_select_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        EntropyDiversitySelectorHook('p', 'l', budget=4, num_clusters=2,
                                     **kwargs)
    hook = EntropyDiversitySelectorHook('p', 'l', budget=4, num_clusters=2,
                                        interval=5, after_training=False)
    assert (hook.interval, hook.after_training) == (5, False)
    assert hook.settings == SelectionSettings(budget=4, num_clusters=2)


class _SemiWrapper(BaseModel):
    """A semi-supervised wrapper: the segmentor is its ``student``."""

    def __init__(self):
        super().__init__()
        self.student = nn.Conv2d(3, 2, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        return self.student(inputs)


def test_model_attr_picks_the_segmentor(tmp_path):
    model = _SemiWrapper()
    runner = Runner(model=model, work_dir=str(tmp_path),
                    experiment_name=f'eds_{uuid.uuid4().hex[:8]}')
    hook = EntropyDiversitySelectorHook('p', 'l', budget=4, num_clusters=2)
    assert hook._segmentor(runner) is model
    hook = EntropyDiversitySelectorHook('p', 'l', budget=4, num_clusters=2,
                                        model_attr='student')
    assert hook._segmentor(runner) is model.student
    hook = EntropyDiversitySelectorHook('p', 'l', budget=4, num_clusters=2,
                                        model_attr='teacher')
    with pytest.raises(AttributeError, match="_SemiWrapper has no attribute "
                       "'teacher'; set model_attr"):
        hook._segmentor(runner)
