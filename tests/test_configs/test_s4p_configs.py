"""The shipped S4P configs: parameter count of the ViT-B model, and the ViT-B
config shrunk (tiny ViT, 64 px) training on the bundled data through the
Runner with an unlabeled split file, as users run it; every value the first
step logs equals a plain FixMatch (tests/utils/s4p_utils.py) computed on
the same weights, batch and random state."""
import copy
import os.path as osp
from glob import glob

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.logging import MessageHub
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmseg.registry import MODELS

from s4p_utils import plain_fixmatch

CFG = 'configs/s4p/s4p-fixmatch_vit-{}_upernet_8xb12-120k_isaid-rs4p-512x512.py'


def test_vit_b_parameter_count_and_variants():
    init_default_scope('mmseg')
    cfg = Config.fromfile(CFG.format('b'))
    seg = copy.deepcopy(cfg.model.segmentor)
    seg.backbone.init_cfg = None
    for norm in (seg.neck, seg.decode_head):
        norm.norm_cfg = dict(type='BN', requires_grad=True)
    model = MODELS.build(dict(cfg.model, segmentor=seg))
    n = sum(p.numel() for p in model.parameters())
    # S5 reference: ViT-B + UperNet = 103.2M with 6 classes; iSAID has 16
    # (10 more output channels of the 256-channel classifier); 'self'
    # teacher: one network only
    assert round((n - 10 * 257) / 1e6, 1) == 103.2
    assert not hasattr(model, 'teacher')
    for size, dims, layers in (('l', 1024, 24), ('h', 1280, 32)):
        c = Config.fromfile(CFG.format(size)).model.segmentor
        assert (c.backbone.embed_dims, c.backbone.num_layers,
                c.neck.embed_dim, c.decode_head.in_channels) == (
                    dims, layers, dims, [dims] * 4)
        assert c.backbone.init_cfg.checkpoint.endswith(
            f'mae_pretrain_vit_{dict(l="large", h="huge")[size]}_mmseg.pth')


class _FirstStep(Hook):
    """Keeps the model, the raw batch and torch's random state before the
    first training step, and the values the step logged."""

    priority = 'LOWEST'  # after every other hook's before_train_iter

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter == 0:
            self.model = copy.deepcopy(runner.model)
            self.batch = copy.deepcopy(data_batch)
            self.rng = torch.get_rng_state()

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if runner.iter == 0:
            self.outputs = {k: v.detach().clone() for k, v in outputs.items()}


def _plain_first_step(first: _FirstStep, ref, iteration: int) -> dict:
    """The logged values of plain FixMatch on the first step's model, batch
    and random state, drawing the boxes of ``iteration``."""
    ref.train()
    data = ref.data_preprocessor(copy.deepcopy(first.batch), True)
    torch.set_rng_state(first.rng)
    return ref.parse_losses(plain_fixmatch(ref, data['inputs'],
                                           data['data_samples'], iteration))[1]


def _shrink_pipeline(pipeline, size):
    for t in pipeline:
        if t['type'] == 'RandomResize':
            t['scale'] = (2 * size, 2 * size)
        elif t['type'] in ('RandomCrop', ):
            t['crop_size'] = (size, size)
        elif t['type'] == 'Resize':
            t['scale'] = (2 * size, 2 * size)
        elif t['type'] == 'LoadAnnotationsChecked':
            t['num_classes'] = 7  # trained on the bundled LoveDA crops


@pytest.mark.parametrize('name', ['fixmatch', 'unimatch-v2'])
def test_shipped_config_trains_on_bundled_data(tmp_path, name):
    size = 64
    cfg = Config.fromfile(CFG.format('b').replace('fixmatch', name))
    seg = cfg.model.segmentor
    seg.backbone.update(img_size=(size, size), patch_size=8, embed_dims=64,
                        num_layers=4, num_heads=4, out_indices=(0, 1, 2, 3),
                        init_cfg=None)
    seg.neck.update(embed_dim=64, norm_cfg=dict(type='BN'))
    seg.decode_head.update(in_channels=[64] * 4, channels=32,
                           norm_cfg=dict(type='BN'), num_classes=7)
    seg.data_preprocessor.size = (size, size)
    cfg.model.data_preprocessor.data_preprocessor.size = (size, size)

    split = tmp_path / 'rs4p_split.txt'
    split.write_text('aGrass/a001.jpg\nbField/b002.jpg\ncIndustry/c003.jpg\n'
                     'dRiverLake/d004.jpg\n')
    labeled, unlabeled = cfg.train_dataloader.dataset.datasets
    loveda = dict(type='LoveDADataset', data_root='tests/data/loveda',
                  data_prefix=dict(img_path='img_dir', seg_map_path='ann_dir'))
    labeled.update(loveda)
    unlabeled.update(data_root='tests/data/unlabeled', ann_file=str(split))
    for pipeline in (labeled.pipeline, unlabeled.pipeline):
        _shrink_pipeline(pipeline, size)
    cfg.train_dataloader.update(batch_size=4, num_workers=0,
                                persistent_workers=False)
    cfg.train_dataloader.sampler.update(batch_size=4, source_ratio=[2, 2])
    cfg.val_dataloader.update(num_workers=0, persistent_workers=False)
    cfg.val_dataloader.dataset.update(loveda)
    _shrink_pipeline(cfg.val_dataloader.dataset.pipeline, size)
    cfg.test_dataloader = cfg.val_dataloader
    cfg.train_cfg.update(max_iters=2, val_interval=2)
    cfg.param_scheduler[0].end = 2
    cfg.default_hooks.checkpoint.interval = 2
    for hook in cfg.custom_hooks:
        if hook.type == 'FixMatchVisualizationHook':
            hook.interval = 1
    cfg.optim_wrapper.type = 'OptimWrapper'  # AMP needs a GPU
    cfg.optim_wrapper.pop('loss_scale')
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    # a visualizer instance is global per name: one per run in this process
    cfg.visualizer.name = f'visualizer_{name}'
    cfg.env_cfg.dist_cfg = dict(backend='gloo')
    cfg.work_dir = str(tmp_path / 'work')

    runner = Runner.from_cfg(cfg)
    first = _FirstStep()
    runner.register_hook(first)
    runner.train()
    model = runner.model
    assert model.semi_train_cfg['conf_thr'] == 0.95
    assert len(runner.train_dataloader.dataset.datasets[1]) == 4
    assert osp.isfile(osp.join(cfg.work_dir, 'iter_2.pth'))
    scalars = runner.message_hub.log_scalars
    assert 'train/sup_decode.loss_ce' in scalars
    assert 'train/unsup_conf_ratio' in scalars
    if name == 'fixmatch':
        assert 'val/mIoU' in scalars  # evaluated at the end
    else:  # EMA teacher, two strong views, feature perturbation
        assert {'val/teacher/mIoU', 'val/student/mIoU',
                'train/unsup_loss_fp'} <= set(scalars)
        assert not torch.equal(model.teacher.backbone.cls_token,
                               model.student.backbone.cls_token)
    panels = glob(osp.join(cfg.work_dir, '*', 'vis_data', 'vis_image',
                           'fixmatch_*.png'))
    assert len(panels) == 2
    assert torch.isfinite(
        torch.tensor(scalars['train/loss'].current()))
    # the first step's values equal a plain FixMatch on the same weights,
    # batch and random state (head dropout and drop path draw alike)
    want = _plain_first_step(first, copy.deepcopy(first.model), 0)
    assert list(first.outputs) == list(want)
    for key, value in want.items():
        assert first.outputs[key].item() == pytest.approx(
            value.item(), rel=1e-5, abs=1e-7), key
    assert want['sup_decode.loss_ce'].item() > 0.5  # a real CE over 7 classes
    # no pixel of the untrained model reaches tau = 0.95: the unsupervised
    # path on the same state with tau = 0 and a CutMix box in every sample
    assert want['unsup_conf_ratio'].item() == 0
    low = copy.deepcopy(first.model)
    low.semi_train_cfg.update(conf_thr=0.0, cutmix_prob=1.0)
    want = _plain_first_step(first, copy.deepcopy(low), 1)
    low.train()
    data = low.data_preprocessor(copy.deepcopy(first.batch), True)
    torch.set_rng_state(first.rng)
    MessageHub.get_current_instance().update_info('iter', 1)
    got = low.loss(data['inputs'], data['data_samples'])
    unsup = ['unsup_loss_seg'] + (['unsup_loss_fp'] if name != 'fixmatch'
                                  else [])
    for key in unsup:
        assert want[key].item() > 0
        assert got[key].item() == pytest.approx(want[key].item(),
                                                rel=1e-5), key
    assert got['unsup_conf_ratio'].item() == 1.0
