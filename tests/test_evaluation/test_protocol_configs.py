"""The shipped protocol configs: the DOTA-v2 submission config run by
mmengine's Runner.test (tools/test.py's path) with a tiny detector on the
patches of the raw scene P1888, and the evaluators of the other configs."""
import copy
import os.path as osp
import sys
import zipfile

from mmengine.config import Config

sys.path.insert(0, osp.join(osp.dirname(__file__), '..', 'utils'))
from mdf_det_common import tiny_model_cfg  # noqa: E402

RELEASED = 'configs/s5_released/'
SUBMISSION = RELEASED + ('test-submission_moe-mdf-p256_vit-b_oriented-rcnn-'
                         'le90_dota2-1024x1024.py')
DET_PROTOCOL = RELEASED + ('test-protocol_moe-mdf-p256_vit-b_oriented-rcnn-'
                           'le90_dior-r-dota2-1024x1024.py')
SEG_PROTOCOL = RELEASED + 's5-released_moe-mdf_vit-b_upernet_rsseg4-512x512.py'


def test_submission_config_writes_the_task1_zip(p1888_split, tmp_path):
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner
    import s5_mm  # noqa: F401
    init_default_scope('mmrotate')
    cfg = Config.fromfile(SUBMISSION)
    cfg.model = tiny_model_cfg(cfg)
    ds = cfg.test_dataloader.dataset
    ds.data_root, ds.data_prefix = p1888_split, dict(img_path='images/')
    ds.pipeline[1].scale = (128, 128)
    cfg.test_dataloader.update(num_workers=0, persistent_workers=False)
    prefix = str(tmp_path / 'sub' / 'Task1')
    cfg.test_evaluator.dataset_metrics.dota.outfile_prefix = prefix
    cfg.work_dir = str(tmp_path / 'work')
    cfg.load_from = None
    Runner.from_cfg(copy.deepcopy(cfg)).test()
    with zipfile.ZipFile(osp.join(prefix, 'Task1.zip')) as z:
        names = sorted(z.namelist())
        assert len(names) == 18 and 'Task1_large-vehicle.txt' in names
        lines = [line for n in names
                 for line in z.read(n).decode().splitlines()]
    # every line: the scene (not a patch) name, a score, 8 coordinates
    assert lines, "the random tiny detector gave no box above 0.05"
    assert all(line.split()[0] == 'P1888' and len(line.split()) == 10
               for line in lines)


def test_protocol_evaluators():
    det = Config.fromfile(DET_PROTOCOL)
    assert det.test_evaluator.dataset_names == ['dior', 'dota']
    dota = det.test_evaluator.dataset_metrics.dota
    assert dota.type == 'FullSceneDOTAMetric' and dota.iou_thr == 0.1
    assert det.test_dataloader.dataset.datasets[0].ann_file == \
        'ImageSets/Main/test.txt'  # DIOR-R test
    seg = Config.fromfile(SEG_PROTOCOL)
    assert seg.test_evaluator.mean_of.to_dict() == dict(
        vaihingen='mIoU', potsdam='mFscore', loveda='mIoU',
        openearthmap='mIoU')
    modes = {k: v['mode'] for k, v in seg.model.test_cfg.per_dataset.items()}
    assert modes == dict(vaihingen='whole', potsdam='whole',
                         openearthmap='resize', loveda='slide_prob_sum')
    datasets = seg.test_dataloader.dataset.datasets
    assert [d.data_prefix.img_path for d in datasets] == ['img_dir/val'] * 4
    # the authors' label sets: 5 / 5 / 7 / 9 classes
    assert [d.pipeline[1].num_classes for d in datasets] == [5, 5, 7, 9]
    assert datasets[3].type == 'S5OpenEarthMapDataset'
    # images at their size: the resize is the model's (align_corners=True)
    assert not [t for d in datasets for t in d.pipeline if t.type == 'Resize']
    assert seg.model.test_cfg.per_dataset.openearthmap.resize_size == \
        (512, 512)
    full = seg.rsseg4_protocol_vaihingen_full_test_dataset
    assert full.data_prefix.img_path == 'img_dir/val_full'


def test_released_detectors_protocol_configs():
    """The released detectors' protocol and submission configs: the
    authors' architecture (extended RoIs, 2 experts) with the protocol's
    evaluators."""
    for size in ('b', 'l'):
        base = (RELEASED + f's5-released_moe-mdf_vit-{size}_oriented-rcnn-'
                'le90_dior-r-dota2-1024x1024')
        released = Config.fromfile(base + '.py')
        protocol = Config.fromfile(base + '_test-protocol.py')
        assert protocol.model == released.model
        assert protocol.model.roi_head.bbox_roi_extractor.extend_factor == \
            (1.4, 1.2)
        dota = protocol.test_evaluator.dataset_metrics.dota
        assert dota.type == 'FullSceneDOTAMetric' and dota.iou_thr == 0.1
        sub = Config.fromfile(base + '_dota2-test-submission.py')
        assert sub.model == released.model
        plain = Config.fromfile(SUBMISSION)
        assert sub.test_evaluator == plain.test_evaluator
        assert sub.test_dataloader == plain.test_dataloader
