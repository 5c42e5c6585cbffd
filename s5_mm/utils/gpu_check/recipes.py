"""The configs the GPU check trains: shipped configs with tiny models
(:func:`s5_mm.utils.tiny_config.shrink_cfg`), the shipped optimiser
wrappers (AMP included) and the bundled sample data (``tests/data`` of a
clone), a few iterations each, no validation and no checkpoint.

Each recipe is a function ``(data_root, amp) -> Config``; ``amp`` is the
AMP dtype to train with (``'float16'``, ``'bfloat16'``) or None (fp32,
the CPU run).
"""
import copy
import os.path as osp
from typing import Callable, Dict, Optional

from mmengine.config import Config, ConfigDict

from s5_mm.utils.tiny_config import shrink_cfg

S4P_DEMO = ('demo/s4p-fixmatch_vit-tiny_1xb2+2-60iter_'
            'loveda-sample-unlabeled-64x64.py')
S4P_SHIPPED = 's4p/s4p-fixmatch_vit-b_upernet_8xb12-120k_isaid-rs4p-512x512.py'
MDF_SEG = 'mdf_seg/moe-mdf-p256_vit-b_upernet_8xb12-100e_rsseg4-512x512.py'
MDF_DET = ('mdf_det/moe-mdf-p256_vit-b_oriented-rcnn-le90_8xb2-12e_'
           'dior-r-dota2-1024x1024.py')

# dataset type -> the bundled sample that stands in for it (sub-folder of
# the data root and the keys that point the dataset at it); OpenEarthMap
# has no sample: the LoveDA crops stand in, as in the README's CPU runs
_SEG = dict(data_prefix=dict(img_path='img_dir', seg_map_path='ann_dir'))
BUNDLED = {
    'LoveDADataset': dict(data_root='loveda', **_SEG),
    'OpenEarthMapDataset': dict(data_root='loveda', **_SEG),
    'ISPRSDataset': dict(data_root='vaihingen', **_SEG),
    'PotsdamDataset': dict(data_root='potsdam', **_SEG),
    'DIORDataset': dict(data_root='dior', ann_file='demo.txt',
                        data_prefix=dict(img_path='JPEGImage')),
    'StrictDIORDataset': dict(data_root='dior', ann_file='demo.txt',
                              data_prefix=dict(img_path='JPEGImage')),
    'DOTAv2Dataset': dict(data_root='dota_split', ann_file='labelTxt/',
                          data_prefix=dict(img_path='images/')),
    'StrictDOTAv2Dataset': dict(data_root='dota_split', ann_file='labelTxt/',
                                data_prefix=dict(img_path='images/')),
    'UnlabeledImageDataset': dict(data_root='unlabeled', ann_file=''),
}


def config_root() -> str:
    """``configs/`` of a clone, or of a regular install (mim's layout)."""
    pkg = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    for root in (osp.join(pkg, '.mim', 'configs'),
                 osp.join(osp.dirname(pkg), 'configs')):
        if osp.isdir(root):
            return root
    raise FileNotFoundError(f'no configs/ next to {pkg} or in its .mim/: '
                            'run the GPU check from a clone of s5_mm')


def _load(rel: str) -> Config:
    return Config.fromfile(osp.join(config_root(), rel))


def on_bundled_data(node, data_root: str):
    """Point every dataset of a dataset config tree at its bundled sample
    (:data:`BUNDLED`); a dataset type without a sample is a ``KeyError``
    naming it."""
    if isinstance(node, (list, tuple)):
        for item in node:
            on_bundled_data(item, data_root)
        return
    if not isinstance(node, dict):
        return
    if 'datasets' in node:
        on_bundled_data(node['datasets'], data_root)
    if 'dataset' in node:
        on_bundled_data(node['dataset'], data_root)
    kind = str(node.get('type', '')).split('.')[-1]
    if kind.endswith('Dataset') and 'Concat' not in kind and \
            'datasets' not in node and 'dataset' not in node:
        if kind not in BUNDLED:
            raise KeyError(f'dataset type {kind}: no bundled sample stands '
                           f'in for it (known: {sorted(BUNDLED)})')
        sample = copy.deepcopy(BUNDLED[kind])
        sample['data_root'] = osp.join(data_root, sample['data_root'])
        node.update(sample)


def _amp(cfg: Config, shipped: Config, amp: Optional[str]) -> None:
    """The shipped optimiser wrapper (AMP or not) around ``cfg``'s
    optimiser; fp32 when ``amp`` is None."""
    wrapper = copy.deepcopy(shipped.optim_wrapper)
    wrapper.optimizer = copy.deepcopy(cfg.optim_wrapper.optimizer)
    for key in ('constructor', 'paramwise_cfg'):
        if key in cfg.optim_wrapper:
            wrapper[key] = copy.deepcopy(cfg.optim_wrapper[key])
        else:
            wrapper.pop(key, None)
    if amp is None:
        wrapper.type = 'OptimWrapper'
        for key in ('loss_scale', 'dtype'):
            wrapper.pop(key, None)
    else:
        wrapper.type = 'AmpOptimWrapper'
        wrapper.dtype = amp
    cfg.optim_wrapper = wrapper


def s4p_fixmatch(data_root: str, amp: Optional[str]) -> Config:
    """S4P FixMatch (self teacher): the demo's tiny model and data views
    with the shipped S4P config's optimiser wrapper."""
    cfg = _load(S4P_DEMO)
    on_bundled_data(cfg.train_dataloader, data_root)
    _amp(cfg, _load(S4P_SHIPPED), amp)
    return cfg


def s4p_ema(data_root: str, amp: Optional[str]) -> Config:
    """S4P with the EMA teacher (UniMatch-V2's teacher: EMATeacherHook)."""
    cfg = s4p_fixmatch(data_root, amp)
    cfg.model.semi_train_cfg.teacher = 'ema'
    cfg.model.semi_test_cfg.predict_on = 'teacher'
    cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [
        dict(type='EMATeacherHook', max_ratio=0.996)
    ]
    return cfg


def _no_pretrained(node):
    """Drop ``Pretrained`` init_cfgs: a tiny model takes no checkpoint."""
    if isinstance(node, dict):
        init = node.get('init_cfg')
        if isinstance(init, dict) and init.get('type') == 'Pretrained':
            node['init_cfg'] = None
        for value in node.values():
            _no_pretrained(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            _no_pretrained(value)


def _shrunk(rel: str, data_root: str, amp: Optional[str],
            per_source: int) -> Config:
    cfg = _load(rel)
    shipped = copy.deepcopy(cfg)
    for key in ('model', 'train_dataloader'):
        cfg[key] = ConfigDict(shrink_cfg(cfg[key].to_dict()))
    _no_pretrained(cfg.model)
    cfg.load_from = None
    on_bundled_data(cfg.train_dataloader, data_root)
    sources = len(cfg.train_dataloader.sampler.source_ratio)
    cfg.train_dataloader.batch_size = per_source * sources
    cfg.train_dataloader.sampler.batch_size = per_source * sources
    if cfg.optim_wrapper.get('paramwise_cfg', {}).get('num_layers'):
        cfg.optim_wrapper.paramwise_cfg.num_layers = 4
    _amp(cfg, shipped, amp)
    return cfg


def moe_mdf_seg(data_root: str, amp: Optional[str]) -> Config:
    """MoE-MDF segmentation: MoE ViT, one UPerHead per dataset, 2 crops of
    each of the 4 datasets a batch (UPerHead's BatchNorm needs 2)."""
    return _shrunk(MDF_SEG, data_root, amp, per_source=2)


def moe_mdf_det(data_root: str, amp: Optional[str]) -> Config:
    """MoE-MDF oriented detection (Oriented R-CNN, mmcv's rotated ops):
    the bundled DIOR-R image and DOTA patches, 2 + 2 images a batch."""
    return _shrunk(MDF_DET, data_root, amp, per_source=2)


RECIPES: Dict[str, Callable[[str, Optional[str]], Config]] = dict(
    s4p_fixmatch=s4p_fixmatch,
    s4p_ema=s4p_ema,
    moe_mdf_seg=moe_mdf_seg,
    moe_mdf_det=moe_mdf_det,
)
