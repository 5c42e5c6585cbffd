"""Helpers of the S4P tests: the shipped demo config (tiny ViT + UperNet,
64 px crops) on the bundled LoveDA crops and unlabeled scenes, and a plain
one-body FixMatch written from the method's description, the reference the
segmentor is compared with."""
import copy

import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

import s5_mm  # noqa: F401
from s5_mm.models.utils.perturbations import cutmix_boxes

DEMO_CFG = ('configs/demo/s4p-fixmatch_vit-tiny_1xb2+2-60iter_'
            'loveda-sample-unlabeled-64x64.py')


def demo_config(second_strong_view: bool = False) -> Config:
    """The shipped S4P demo config; optionally with UniMatch V2's second
    strong view ``unsup_student2`` in the unlabeled pipeline."""
    init_default_scope('mmseg')
    cfg = Config.fromfile(DEMO_CFG)
    return add_second_strong_view(cfg) if second_strong_view else cfg


def build_model(cfg: Config, **semi_train_cfg):
    """The demo's FixMatchSegmentor, head dropout off (deterministic)."""
    from mmseg.registry import MODELS
    init_default_scope('mmseg')
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.segmentor.decode_head.dropout_ratio = 0.0
    model_cfg.semi_train_cfg.update(semi_train_cfg)
    return MODELS.build(model_cfg)


def add_second_strong_view(cfg: Config) -> Config:
    """Give the demo's train pipelines an 'unsup_student2' branch."""
    branch_field = cfg.branch_field + ['unsup_student2']
    labeled, unlabeled = cfg.train_dataloader.dataset.datasets
    labeled.pipeline[-1].branch_field = branch_field
    unlabeled.pipeline[-1].branch_field = branch_field
    unlabeled.pipeline[-1].unsup_student2 = copy.deepcopy(cfg.strong_pipeline)
    return cfg


def real_batches(cfg: Config, num: int = 1):
    """``num`` collated training batches of the demo's dataloader."""
    init_default_scope('mmseg')
    loader = Runner.build_dataloader(
        copy.deepcopy(cfg.train_dataloader), seed=0)
    it = iter(loader)
    return [next(it) for _ in range(num)]


def padding_mask(samples, ignore_index: int = 255) -> torch.Tensor:
    """(B, H, W) bool: the weak view's padding, read off ``gt_sem_seg``."""
    return torch.stack([s.gt_sem_seg.data[0] == ignore_index
                        for s in samples])


def reference_logits(net, x, feat_fn=None):
    """An mmseg EncoderDecoder's logits at input size, by hand: backbone,
    (feature perturbation), neck, head, bilinear resize."""
    feats = net.backbone(x)
    if feat_fn is not None:
        feats = feat_fn(feats)
    feats = net.neck(feats)
    out = net.decode_head.forward(feats)
    return F.interpolate(out, size=x.shape[2:], mode='bilinear',
                         align_corners=net.align_corners)


def plain_fixmatch(model, inputs, samples, it):
    """One-body FixMatch loss: teacher on the weak view, CutMix with the
    reversed batch, thresholded CE, (UniMatch V2) complementary dropout,
    (UniMatch) feature perturbation. Random draws as documented: a
    generator seeded with torch's seed + 1000003 * (iteration + 1) (rank
    0). Reads ``model.semi_train_cfg``, ``model.student`` and, for an EMA
    teacher, ``model.teacher``; no class weights."""
    cfg = model.semi_train_cfg
    student = model.student
    sup = student.loss(inputs['sup'], samples['sup'])
    losses = {'sup_' + k: (v * (cfg['sup_weight'] / 2) if 'loss' in k else v)
              for k, v in sup.items()}
    weak = inputs['unsup_teacher']
    teacher = model.teacher if cfg['teacher'] == 'ema' else student
    teacher.eval()
    with torch.no_grad():
        probs = reference_logits(teacher, weak).softmax(1)
    if cfg['teacher'] == 'self':
        student.train()
    conf, label = probs.max(1)
    ignore = padding_mask(samples['unsup_teacher'])
    gen = torch.Generator().manual_seed(
        (torch.initial_seed() + 1000003 * (it + 1)) % 2**63)
    keys = ['unsup_student'] + (['unsup_student2'] if cfg['comp_drop'] else [])
    views = []
    for key in keys:
        img = inputs[key]
        b, _, h, w = img.shape
        box = cutmix_boxes(b, h, w, cfg['cutmix_prob'], cfg['cutmix_area'],
                           cfg['cutmix_ratio'], gen)
        views.append((torch.where(box[:, None], img.flip(0), img),
                      [torch.where(box, t.flip(0), t)
                       for t in (label, conf, ignore)]))

    def comp_drop(feats):
        n, c = feats[0].shape[:2]
        kept = torch.randperm(n // 2, generator=gen)[:int(
            n // 2 * cfg['comp_drop_keep'])]
        m1 = (torch.rand(n // 2, c, generator=gen) < 0.5).float() * 2
        m2 = 2 - m1
        m1[kept] = 1.0
        m2[kept] = 1.0
        m = torch.cat([m1, m2])[..., None, None]
        return [f * m for f in feats]  # all ViT levels have the same width

    def thresholded_ce(lg, pl, cf, ig):
        ce = F.cross_entropy(lg, pl, reduction='none')
        keep = (cf >= cfg['conf_thr']) & ~ig
        return (ce * keep).sum() / (~ig).sum().clamp(min=1)

    logits = reference_logits(student, torch.cat([v[0] for v in views]),
                              comp_drop if cfg['comp_drop'] else None)
    strong = sum(thresholded_ce(lg, *v[1])
                 for lg, v in zip(logits.chunk(len(views)), views))
    losses['unsup_loss_seg'] = (strong / len(views) * (cfg['unsup_weight'] / 2)
                                * (1 - cfg['fp_weight']))
    if cfg['fp_weight'] > 0:
        def drop(feats):
            p = cfg['fp_drop']
            return [f * ((torch.rand(f.shape[:2], generator=gen) >= p).to(f)
                         / (1 - p))[..., None, None] for f in feats]
        losses['unsup_loss_fp'] = (cfg['unsup_weight'] / 2 * cfg['fp_weight']
                                   * thresholded_ce(
                                       reference_logits(student, weak, drop),
                                       label, conf, ignore))
    keep = (conf >= cfg['conf_thr']) & ~ignore
    losses['unsup_conf_ratio'] = keep.sum() / (~ignore).sum()
    if cfg['log_class_hist']:
        hist = torch.bincount(label[keep], minlength=probs.shape[1]).float()
        for k in range(probs.shape[1]):
            losses[f'unsup_pl_cls{k}'] = (hist / hist.sum().clamp(min=1))[k]
    return losses
