"""demo/image_demo.py and tools/model_converters/export_dense.py on a tiny
trained MoE-MDF checkpoint."""
import copy
import os.path as osp

import mmcv
import numpy as np
import pytest
import torch
from PIL import Image
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS
from mmseg.apis import init_model
from mmseg.datasets import LoveDADataset

import s5_mm  # noqa: F401
from mdf_seg_utils import NAMES
from script_runner import run_script

pytestmark = pytest.mark.xdist_group('trained_moe_mdf')  # its session fixture

IMG = 'tests/data/loveda/img_dir/1.png'


def run(args, repo_root):
    return run_script(args, cwd=repo_root, timeout=300)


def miou_by_hand(cfg, name, pred_dir):
    """mIoU (in %) of the PNG predictions in ``pred_dir`` against the raw
    labels of test set ``name``, as mmseg defines it (classes absent from
    both prediction and label are left out)."""
    dataset = _test_set(cfg, name)
    n = len(dataset.metainfo['classes'])
    inter, union = np.zeros(n), np.zeros(n)
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        label = np.array(Image.open(info['seg_map_path'])).astype(np.int64)
        stem = osp.splitext(osp.basename(info['img_path']))[0]
        pred = np.array(Image.open(pred_dir / f'{stem}.png')).astype(
            np.int64)
        if info.get('reduce_zero_label'):
            label = np.where((label == 0) | (label == 255), 255, label - 1)
            pred = pred - 1
        valid = label != 255
        for c in range(n):
            p, t = (pred == c) & valid, (label == c) & valid
            inter[c] += (p & t).sum()
            union[c] += (p | t).sum()
    seen = union > 0
    return float(np.mean(inter[seen] / union[seen]) * 100)


def _test_set(cfg, name):
    return DATASETS.build(cfg.test_dataloader.dataset.datasets[
        NAMES.index(name)])


def model_prediction(runner, cfg, name, img_path=None, dataset=None):
    """runner.model's prediction for a test image of dataset ``name``
    (all of them, in order, if ``img_path`` is None)."""
    init_default_scope('mmseg')
    dataset = dataset or _test_set(cfg, name)
    runner.model.eval()
    preds = []
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        if img_path and osp.abspath(info['img_path']) != osp.abspath(
                img_path):
            continue
        with torch.no_grad():
            preds.append(runner.model.test_step(pseudo_collate([dataset[i]]))
                         [0])
    assert preds, f'{img_path} is not in the {name} test set'
    return preds[0] if img_path else preds


def tta_reference(model, cfg, name):
    """Per test image of dataset ``name``: the argmax of the mean softmax of
    the image and its horizontal flip, computed without the TTA code: the
    segmentor ``model`` (built from the config by ``mmseg.apis.init_model``
    with the checkpoint), each view built here (the raw image mirrored
    right after loading, where the TTA pipeline flips, then the dataset's
    own test pipeline), the flipped view's logits mirrored back here.

    Returns:
        dict: ``{png name: (tta label, gap, label of the un-flipped view
        alone)}``, ``gap`` being the difference of the two largest mean
        probabilities (near-ties may go either way).
    """
    init_default_scope('mmseg')
    dataset = _test_set(cfg, name)
    load, rest = dataset.pipeline.transforms[0], \
        dataset.pipeline.transforms[1:]
    out = {}
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        loaded = load(copy.deepcopy(info))
        mirrored = copy.deepcopy(loaded)
        mirrored['img'] = np.ascontiguousarray(loaded['img'][:, ::-1])
        probs = []
        for view, flip in ((loaded, False), (mirrored, True)):
            for t in rest:
                view = t(view)
            # (no flip in the metainfo: the segmentor un-flips nothing)
            assert not view['data_samples'].metainfo.get('flip')
            with torch.no_grad():
                logits = model.test_step(pseudo_collate([view]))[0] \
                    .seg_logits.data
            probs.append((logits.flip(-1) if flip else logits).softmax(0))
        mean = torch.stack(probs).mean(0)
        top2 = mean.topk(2, dim=0).values
        stem = osp.splitext(osp.basename(info['img_path']))[0]
        out[f'{stem}.png'] = (mean.argmax(0).numpy(),
                              (top2[0] - top2[1]).numpy(),
                              probs[0].argmax(0).numpy())
    return out


def test_demo_draws_the_datasets_prediction(trained_moe_mdf, tmp_path,
                                            repo_root, image_demo):
    cfg, runner, cfg_path, ckpt = trained_moe_mdf
    out = str(tmp_path / 'loveda.png')
    proc = run(['demo/image_demo.py', IMG, cfg_path, ckpt, '--dataset',
                'loveda', '--out-file', out], repo_root)
    assert proc.returncode == 0, proc.stderr[-3000:]
    drawn = mmcv.imread(out, channel_order='rgb').astype(float)
    image = mmcv.imread(IMG, channel_order='rgb').astype(float)
    assert drawn.shape == image.shape

    # the demo's prediction = the trained model's own loveda prediction
    # (runner.model holds the weights the checkpoint was saved from: a demo
    # that dropped the checkpoint would predict otherwise)
    result = image_demo.main([IMG, cfg_path, ckpt, '--dataset', 'loveda',
                              '--out-file', str(tmp_path / 'again.png')])
    want = model_prediction(runner, cfg, 'loveda', IMG)
    assert result.seg_logits.data.shape[0] == 7
    torch.testing.assert_close(result.seg_logits.data, want.seg_logits.data,
                               rtol=1e-4, atol=1e-4)
    pred = want.pred_sem_seg.data[0].numpy()
    assert torch.equal(result.pred_sem_seg.data, want.pred_sem_seg.data)
    palette = np.array(LoveDADataset.METAINFO['palette'], dtype=float)
    # every pixel = 0.5 image + 0.5 colour of its predicted class, except
    # where a class name is written
    expected = np.floor(0.5 * image + 0.5 * palette[pred])
    close = np.abs(drawn - expected).max(axis=-1) <= 1
    assert close.mean() > 0.95, close.mean()  # text: 3.7% of this picture

    # another dataset's head and palette give another picture
    image_demo.main([IMG, cfg_path, ckpt, '--dataset', 'openearthmap',
                     '--out-file', str(tmp_path / 'oem.png')])
    assert not np.array_equal(mmcv.imread(str(tmp_path / 'oem.png')),
                              mmcv.imread(out))


def test_demo_errors(trained_moe_mdf, tmp_path, image_demo):
    cfg, runner, cfg_path, ckpt = trained_moe_mdf
    out = ['--out-file', str(tmp_path / 'x.png')]
    with pytest.raises(ValueError, match='choose one with --dataset'):
        image_demo.main([IMG, cfg_path, ckpt] + out)
    with pytest.raises(ValueError, match="'isaid' is not one of"):
        image_demo.main([IMG, cfg_path, ckpt, '--dataset', 'isaid'] + out)
    with pytest.raises(FileNotFoundError, match='image file not found'):
        image_demo.main(['missing.png', cfg_path, ckpt] + out)
    # a truncated PNG: stopped, named, nothing written
    truncated = tmp_path / 'truncated.png'
    with open(IMG, 'rb') as f:
        truncated.write_bytes(f.read()[:200])
    with pytest.raises(ValueError, match=f'{truncated} could not be decoded'):
        image_demo.main([str(truncated), cfg_path, ckpt, '--dataset',
                         'loveda'] + out)
    assert not (tmp_path / 'x.png').exists()
    # a picture OpenCV cannot encode: an error, and no half-written file
    with pytest.raises(OSError, match=r'could not write .*x\.unknown'):
        image_demo.main([IMG, cfg_path, ckpt, '--dataset', 'loveda',
                         '--out-file', str(tmp_path / 'x.unknown')])
    assert not list(tmp_path.glob('x.*'))


def test_demo_single_dataset_model(tmp_path, image_demo):
    """A plain mmseg EncoderDecoder (the foundation's demo config) needs no
    --dataset."""
    cfg_path = ('configs/demo/'
                'upernet_vit-tiny_1xb4-60iter_loveda-sample-64x64.py')
    init_default_scope('mmseg')
    model = init_model(Config.fromfile(cfg_path), device='cpu')
    ckpt = str(tmp_path / 'plain.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)
    out = str(tmp_path / 'plain.png')
    result = image_demo.main([IMG, cfg_path, ckpt, '--out-file', out])
    assert result.seg_logits.data.shape[0] == 7
    assert mmcv.imread(out).shape == (1024, 1024, 3)


def test_export_dense_predicts_like_moe_mdf(trained_moe_mdf, tmp_path,
                                            repo_root):
    """The dense single-dataset model exported for loveda predicts what the
    MoE-MDF model predicts for loveda."""
    cfg, runner, cfg_path, ckpt = trained_moe_mdf
    out_dir = str(tmp_path / 'exported')
    proc = run(['tools/model_converters/export_dense.py', cfg_path, ckpt,
                'loveda', out_dir], repo_root)
    assert proc.returncode == 0, proc.stderr[-3000:]
    exported_cfg = Config.fromfile(osp.join(out_dir, 'loveda.py'))
    assert exported_cfg.model.type == 'EncoderDecoder'
    assert exported_cfg.model.backbone.type == 'VisionTransformer'
    assert exported_cfg.model.decode_head.num_classes == 7
    init_default_scope('mmseg')
    dense = init_model(exported_cfg, osp.join(out_dir, 'loveda.pth'),
                       device='cpu')
    moe = runner.model
    moe.eval()
    dataset = DATASETS.build(cfg.test_dataloader.dataset.datasets[
        NAMES.index('loveda')])
    for i in range(len(dataset)):
        batch = pseudo_collate([dataset[i]])
        with torch.no_grad():
            want = moe.test_step(batch)[0]
            got = dense.test_step(pseudo_collate([dataset[i]]))[0]
        torch.testing.assert_close(got.seg_logits.data, want.seg_logits.data,
                                   rtol=1e-4, atol=1e-4)
        assert torch.equal(got.pred_sem_seg.data, want.pred_sem_seg.data)
    # (not trivially: another dataset's expert gives other features)
    with torch.no_grad():
        x = moe.data_preprocessor(dict(inputs=[dataset[0]['inputs']]),
                                  False)['inputs']
        f_lov = moe.backbone(x, NAMES.index('loveda'))[-1]
        f_oem = moe.backbone(x, NAMES.index('openearthmap'))[-1]
    assert (f_lov - f_oem).abs().max() > 1e-6


def test_test_tool_writes_per_dataset_predictions(trained_moe_mdf, tmp_path,
                                                  repo_root):
    """tools/test.py on a multi-dataset config: metrics of every dataset
    and --out predictions in one folder per dataset."""
    cfg, runner, cfg_path, ckpt = trained_moe_mdf
    out = tmp_path / 'out'
    proc = run(['tools/test.py', cfg_path, ckpt, '--work-dir',
                str(tmp_path / 'work'), '--out', str(out)], repo_root)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'openearthmap/mIoU' in proc.stdout and 'mean:' in proc.stdout
    counts = {p.name: len(list(p.glob('*.png'))) for p in out.iterdir()}
    assert counts == dict(vaihingen=1, potsdam=1, loveda=3, openearthmap=2)
    # every folder holds ITS dataset's images, each the model's prediction
    # (IoUMetric writes class + 1 for reduce_zero_label datasets)
    for name in NAMES:
        dataset = _test_set(cfg, name)
        preds = model_prediction(runner, cfg, name, dataset=dataset)
        want = {}
        for i, pred in enumerate(preds):
            stem = osp.splitext(osp.basename(
                dataset.get_data_info(i)['img_path']))[0]
            label = pred.pred_sem_seg.data[0].numpy()
            want[f'{stem}.png'] = label + int(
                bool(dataset.get_data_info(i).get('reduce_zero_label')))
        got = {p.name: np.array(Image.open(p))
               for p in (out / name).glob('*.png')}
        assert sorted(got) == sorted(want), name
        for key in want:
            np.testing.assert_array_equal(got[key], want[key],
                                          err_msg=f'{name}/{key}')


def test_test_tool_tta_on_a_multi_dataset_config(trained_moe_mdf, tmp_path,
                                                 repo_root):
    """tools/test.py --tta: every dataset's own test pipeline wrapped in
    TestTimeAug, the views merged by MultiDatasetSegTTAModel, a metric for
    every dataset, and the dumped predictions equal to the mean softmax of
    each image and its mirror computed here (:func:`tta_reference`; the
    merging on its own: tests/test_utils/test_tta.py)."""
    import re
    cfg, runner, cfg_path, ckpt = trained_moe_mdf
    out_dir = tmp_path / 'out'
    proc = run(['tools/test.py', cfg_path, ckpt, '--tta', '--work-dir',
                str(tmp_path / 'work'), '--out', str(out_dir)], repo_root)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    for name in NAMES:
        m = re.search(rf'{name}/m(?:IoU|Fscore): ([0-9.]+)', out)
        assert m is not None and 0.0 <= float(m.group(1)) <= 100.0, name
        # the reported metric = one computed here from the dumped TTA
        # predictions and the raw labels (numpy, not mmseg's IoUMetric)
        iou = re.search(rf'{name}/mIoU: ([0-9.]+)', out)
        if iou is None:
            continue
        assert float(iou.group(1)) == pytest.approx(
            miou_by_hand(cfg, name, out_dir / name), abs=0.011), name
    dumped = Config.fromfile(next((tmp_path / 'work').glob('*.py')))
    assert dumped.model.type == 'MultiDatasetSegTTAModel'
    pipelines = [d.pipeline for d in dumped.test_dataloader.dataset.datasets]
    assert len(pipelines) == len(NAMES)
    assert all(p[1].type == 'TestTimeAug' for p in pipelines)

    # every dumped TTA prediction = the argmax of the mean softmax of the
    # image and its mirror, computed here without the TTA code (the same
    # checkpoint in a plain segmentor, the views built by hand). Measured:
    # 3,678,208 pixels (7 images), 0 differ; the un-flipped view alone
    # differs from TTA on 30,582 vaihingen, 31,637 potsdam, 444,312 loveda
    # and 3,247 openearthmap pixels (10-42% of each dataset's), so a merge
    # that drops the flip fails here, and so does one that averages logits
    # instead of softmax (107 to 3,891 pixels per image then differ).
    model = init_model(cfg_path, ckpt, device='cpu')
    for name in NAMES:
        offset = int(bool(_test_set(cfg, name).get_data_info(0).get(
            'reduce_zero_label')))  # IoUMetric writes class + 1 then
        reference = tta_reference(model, cfg, name)
        assert sorted(p.name for p in (out_dir / name).glob('*.png')) == \
            sorted(reference), name
        total = flip_changes = 0
        for key, (want, gap, unflipped) in reference.items():
            got = np.array(Image.open(out_dir / name / key)).astype(
                np.int64) - offset
            assert got.shape == want.shape, f'{name}/{key}'
            wrong = got != want
            # only near-ties (top-2 mean probabilities < 1e-5 apart) may
            # go either way, and few of them
            clear = int((wrong & (gap >= 1e-5)).sum())
            assert clear == 0, (
                f'{name}/{key}: {clear} of {got.size} pixels differ from the '
                'mean softmax of the image and its flip')
            assert wrong.sum() <= 1e-3 * got.size, (name, key, wrong.sum())
            total += got.size
            flip_changes += int((unflipped != got).sum())
        # the flipped view matters here (else the check above is blind)
        assert flip_changes > 0.01 * total, (name, flip_changes, total)
