"""An independent reimplementation, for the tests, of what the S5 authors'
released detector computes: written from OBBDetection's published source
(jbwang1997/OBBDetection: mmdet/core/bbox/transforms_obb/{form,misc}.py,
coder/obb/{obb2obb_delta_xywht,midpoint_offset}_coder.py,
ops/roi_align_rotated/src/roi_align_rotated_cpu.cpp,
roi_extractors/obb/obb_single_level_roi_extractor.py,
dense_heads/obb/oriented_rpn_head.py, bbox_heads/obb/obbox_head.py) and
the S5 fork (MiliLab/S5 RS_Finetune/Object_Detection:
backbones/vit_moe.py; its forward is ``reference_vit.s5_vit``), and a
checkpoint with their key names. Nothing here
calls s5_mm, mmrotate or mmcv; angles are OBBDetection's (``obb2poly``:
(w/2 cos t, -w/2 sin t)).
"""
import math
from typing import Dict, Sequence

import torch
import torch.nn.functional as F
import torchvision

PI = 3.141592  # OBBDetection's constant

# BboxToolkit dataset_classes (jbwang1997/BboxToolkit, datasets/misc.py)
BBOXTOOLKIT_DIOR = (
    'airplane', 'airport', 'baseballfield', 'basketballcourt', 'bridge',
    'chimney', 'expressway-service-area', 'expressway-toll-station', 'dam',
    'golffield', 'groundtrackfield', 'harbor', 'overpass', 'ship', 'stadium',
    'storagetank', 'tenniscourt', 'trainstation', 'vehicle', 'windmill')
BBOXTOOLKIT_DOTA2 = (
    'large-vehicle', 'swimming-pool', 'helicopter', 'bridge', 'plane', 'ship',
    'soccer-ball-field', 'basketball-court', 'ground-track-field',
    'small-vehicle', 'baseball-diamond', 'tennis-court', 'roundabout',
    'storage-tank', 'harbor', 'container-crane', 'airport', 'helipad')
CLASSES = {'dior': BBOXTOOLKIT_DIOR, 'dota': BBOXTOOLKIT_DOTA2}


# ----------------------------------------------------------- checkpoint
def authors_state(dims=32, layers=4, hidden=128, part=8, grid=4, fpn=16,
                  fc=32, anchors=3, roi=7, tasks=('dior', 'dota'),
                  dtype=torch.float16, device='cpu', seed=0
                  ) -> Dict[str, torch.Tensor]:
    """A state dict of their OBBTwoStageDetectorMTD (ViT_MOE backbone with
    fpn1..fpn4, FPN / OrientedRPNHead / OBBShared2FCBBoxHead per task), with
    random values (``device='meta'``: shapes only)."""
    gen = torch.Generator().manual_seed(seed)

    def t(*shape, std=0.2):
        if device == 'meta':
            return torch.empty(shape, dtype=dtype, device='meta')
        return (torch.randn(shape, generator=gen) * std).to(dtype)

    s = {'backbone.cls_token': t(1, 1, dims),
         'backbone.pos_embed': t(1, grid * grid, dims),
         'backbone.patch_embed.projection.weight': t(dims, 3, 16, 16,
                                                     std=0.02),
         'backbone.patch_embed.projection.bias': t(dims)}
    for i in range(layers):
        p = f'backbone.layers.{i}.'
        s[p + 'ln1.weight'] = 1 + t(dims)
        s[p + 'ln1.bias'] = t(dims)
        s[p + 'attn.attn.in_proj_weight'] = t(3 * dims, dims)
        s[p + 'attn.attn.in_proj_bias'] = t(3 * dims)
        s[p + 'attn.attn.out_proj.weight'] = t(dims, dims)
        s[p + 'attn.attn.out_proj.bias'] = t(dims)
        s[p + 'ln2.weight'] = 1 + t(dims)
        s[p + 'ln2.bias'] = t(dims)
        s[p + 'ffn.layers.0.0.weight'] = t(hidden, dims)
        s[p + 'ffn.layers.0.0.bias'] = t(hidden)
        s[p + 'ffn.layers.1.weight'] = t(dims - part, hidden)
        s[p + 'ffn.layers.1.bias'] = t(dims - part)
        for k in range(len(tasks)):
            s[f'{p}ffn.experts.{k}.weight'] = t(part, hidden)
            s[f'{p}ffn.experts.{k}.bias'] = t(part)
    for name in ('fpn1.0', 'fpn1.3', 'fpn2.0'):
        s[f'backbone.{name}.weight'] = t(dims, dims, 2, 2)
        s[f'backbone.{name}.bias'] = t(dims)
    s['backbone.fpn1.1.ln.weight'] = 1 + t(dims)
    s['backbone.fpn1.1.ln.bias'] = t(dims)
    for task in tasks:
        for level in range(4):
            p = f'neck_{task}.'
            s[f'{p}lateral_convs.{level}.conv.weight'] = t(fpn, dims, 1, 1)
            s[f'{p}lateral_convs.{level}.conv.bias'] = t(fpn)
            s[f'{p}fpn_convs.{level}.conv.weight'] = t(fpn, fpn, 3, 3)
            s[f'{p}fpn_convs.{level}.conv.bias'] = t(fpn)
        p = f'rpn_head_{task}.'
        s[p + 'rpn_conv.weight'] = t(fpn, fpn, 3, 3)
        s[p + 'rpn_conv.bias'] = t(fpn)
        s[p + 'rpn_cls.weight'] = t(anchors, fpn, 1, 1)
        s[p + 'rpn_cls.bias'] = t(anchors)
        s[p + 'rpn_reg.weight'] = t(6 * anchors, fpn, 1, 1)
        s[p + 'rpn_reg.bias'] = t(6 * anchors)
        p = f'roi_head_{task}.bbox_head.'
        s[p + 'shared_fcs.0.weight'] = t(fc, fpn * roi * roi, std=0.05)
        s[p + 'shared_fcs.0.bias'] = t(fc)
        s[p + 'shared_fcs.1.weight'] = t(fc, fc)
        s[p + 'shared_fcs.1.bias'] = t(fc)
        s[p + 'fc_cls.weight'] = t(len(CLASSES[task]) + 1, fc)
        s[p + 'fc_cls.bias'] = t(len(CLASSES[task]) + 1)
        s[p + 'fc_reg.weight'] = t(5, fc)
        s[p + 'fc_reg.bias'] = t(5)
    return s


# ------------------------------------------------------------ box maths
def regular_theta(theta, start=-PI / 2):
    return (theta - start) % PI + start


def regular_obb(obb):
    x, y, w, h, t = obb.unbind(-1)
    wr = torch.where(w > h, w, h)
    hr = torch.where(w > h, h, w)
    tr = regular_theta(torch.where(w > h, t, t + PI / 2))
    return torch.stack([x, y, wr, hr, tr], -1)


def obb2poly(obb):
    center, w, h, theta = torch.split(obb, [2, 1, 1, 1], dim=-1)
    cos, sin = torch.cos(theta), torch.sin(theta)
    v1 = torch.cat([w / 2 * cos, -w / 2 * sin], -1)
    v2 = torch.cat([-h / 2 * sin, -h / 2 * cos], -1)
    return torch.cat([center + v1 + v2, center + v1 - v2, center - v1 - v2,
                      center - v1 + v2], -1)


def obb2hbb(obb):
    center, w, h, theta = torch.split(obb, [2, 1, 1, 1], dim=-1)
    cos, sin = torch.cos(theta), torch.sin(theta)
    bias = torch.cat([torch.abs(w / 2 * cos) + torch.abs(h / 2 * sin),
                      torch.abs(w / 2 * sin) + torch.abs(h / 2 * cos)], -1)
    return torch.cat([center - bias, center + bias], -1)


def rectpoly2obb(polys):
    theta = torch.atan2(-(polys[..., 3] - polys[..., 1]),
                        polys[..., 2] - polys[..., 0])
    cos, sin = torch.cos(theta), torch.sin(theta)
    matrix = torch.stack([cos, -sin, sin, cos], -1).view(
        *theta.shape, 2, 2)
    x, y = polys[..., 0::2].mean(-1), polys[..., 1::2].mean(-1)
    center = torch.stack([x, y], -1).unsqueeze(-2)
    rotated = torch.matmul(polys.view(*polys.shape[:-1], 4, 2) - center,
                           matrix.transpose(-1, -2))
    w = rotated[..., 0].amax(-1) - rotated[..., 0].amin(-1)
    h = rotated[..., 1].amax(-1) - rotated[..., 1].amin(-1)
    return regular_obb(torch.stack([x, y, w, h, theta], -1))


def delta2obb(rois, deltas, stds=(0.1, 0.1, 0.2, 0.2, 0.1),
              wh_ratio_clip=16 / 1000):
    """OBB2OBBDeltaXYWHTCoder.decode (class-agnostic, means 0)."""
    d = deltas * deltas.new_tensor(stds)
    dx, dy, dw, dh, dt = d.unbind(-1)
    max_ratio = abs(math.log(wh_ratio_clip))
    dw, dh = dw.clamp(-max_ratio, max_ratio), dh.clamp(-max_ratio, max_ratio)
    px, py, pw, ph, pt = rois.unbind(-1)
    gx = dx * pw * torch.cos(-pt) - dy * ph * torch.sin(-pt) + px
    gy = dx * pw * torch.sin(-pt) + dy * ph * torch.cos(-pt) + py
    out = torch.stack([gx, gy, pw * dw.exp(), ph * dh.exp(),
                       regular_theta(dt + pt)], -1)
    return regular_obb(out)


def delta_sp2obb(anchors, deltas, stds=(1., 1., 1., 1., 0.5, 0.5),
                 wh_ratio_clip=16 / 1000):
    """MidpointOffsetCoder.decode (means 0)."""
    d = deltas * deltas.new_tensor(stds)
    dx, dy, dw, dh, da, db = d.unbind(-1)
    max_ratio = abs(math.log(wh_ratio_clip))
    dw, dh = dw.clamp(-max_ratio, max_ratio), dh.clamp(-max_ratio, max_ratio)
    px = (anchors[:, 0] + anchors[:, 2]) * 0.5
    py = (anchors[:, 1] + anchors[:, 3]) * 0.5
    pw = anchors[:, 2] - anchors[:, 0]
    ph = anchors[:, 3] - anchors[:, 1]
    gw, gh = pw * dw.exp(), ph * dh.exp()
    gx, gy = px + pw * dx, py + ph * dy
    x1, y1, x2, y2 = gx - gw / 2, gy - gh / 2, gx + gw / 2, gy + gh / 2
    da, db = da.clamp(-0.5, 0.5), db.clamp(-0.5, 0.5)
    ga, _ga = gx + da * gw, gx - da * gw
    gb, _gb = gy + db * gh, gy - db * gh
    polys = torch.stack([ga, y1, x2, gb, _ga, y2, x1, _gb], -1)
    center = torch.stack([gx, gy] * 4, -1)
    cp = polys - center
    diag = torch.sqrt(cp[..., 0::2]**2 + cp[..., 1::2]**2)
    scale = diag.amax(-1, keepdim=True) / diag
    return rectpoly2obb(cp * scale.repeat_interleave(2, -1) + center)


def anchors_of(stride: int, feat_hw, scales=(8, ), ratios=(0.5, 1., 2.)):
    """mmdet 2.x AnchorGenerator (center_offset 0, scale major), one level:
    (H * W * A, 4), anchors of a location contiguous."""
    h_ratios = torch.tensor(ratios).sqrt()
    w_ratios = 1 / h_ratios
    scales = torch.tensor(scales, dtype=torch.float)
    ws = (stride * w_ratios[:, None] * scales[None]).view(-1)
    hs = (stride * h_ratios[:, None] * scales[None]).view(-1)
    base = torch.stack([-0.5 * ws, -0.5 * hs, 0.5 * ws, 0.5 * hs], -1)
    ys, xs = torch.meshgrid(torch.arange(feat_hw[0]) * stride,
                            torch.arange(feat_hw[1]) * stride, indexing='ij')
    shifts = torch.stack([xs, ys, xs, ys], -1).view(-1, 1, 4).float()
    return (shifts + base[None]).view(-1, 4)


def rpn_proposals(cls_scores, bbox_preds, strides, nms_pre=2000,
                  nms_post=2000, iou_thr=0.8):
    """OrientedRPNHead._get_bboxes_single for one image: (obb, score, the
    denormalised midpoint offsets (da, db) of each box)."""
    scores, deltas, anchors, ids = [], [], [], []
    for level, (cls, reg, stride) in enumerate(
            zip(cls_scores, bbox_preds, strides)):
        s = cls.permute(1, 2, 0).reshape(-1).sigmoid()
        r = reg.permute(1, 2, 0).reshape(-1, 6)
        a = anchors_of(stride, cls.shape[-2:])
        if 0 < nms_pre < s.numel():
            s, order = s.sort(descending=True)
            s, r, a = s[:nms_pre], r[order[:nms_pre]], a[order[:nms_pre]]
        scores.append(s)
        deltas.append(r)
        anchors.append(a)
        ids.append(torch.full_like(s, level, dtype=torch.long))
    scores = torch.cat(scores)
    proposals = delta_sp2obb(torch.cat(anchors), torch.cat(deltas))
    keep = torchvision.ops.batched_nms(obb2hbb(proposals), scores,
                                       torch.cat(ids), iou_thr)[:nms_post]
    offsets = torch.cat(deltas)[keep, 4:] * 0.5  # target_stds of da, db
    return proposals[keep], scores[keep], offsets


# ------------------------------------------------------------- RoI side
def roi_align_rotated(feat, rois, spatial_scale, out=7, sample=2):
    """Their ROIAlignRotatedForward (aligned=True, theta in radians):
    (n, C, out, out) from feat (B, C, H, W) and rois (n, 6)."""
    _, _, height, width = feat.shape
    outs = []
    for roi in rois:
        b = int(roi[0])
        cx = roi[1] * spatial_scale - 0.5
        cy = roi[2] * spatial_scale - 0.5
        rw, rh = roi[3] * spatial_scale, roi[4] * spatial_scale
        cos, sin = torch.cos(roi[5]), torch.sin(roi[5])
        grid = (torch.arange(out)[:, None] +
                (torch.arange(sample)[None] + 0.5) / sample).reshape(-1)
        yy = (-rh / 2 + grid * rh / out)[:, None].expand(-1, out * sample)
        xx = (-rw / 2 + grid * rw / out)[None, :].expand(out * sample, -1)
        y = yy * cos - xx * sin + cy
        x = yy * sin + xx * cos + cx
        empty = (y < -1.0) | (y > height) | (x < -1.0) | (x > width)
        y, x = y.clamp(min=0), x.clamp(min=0)
        y_low, x_low = y.long(), x.long()
        top_y, top_x = y_low >= height - 1, x_low >= width - 1
        y_low = torch.where(top_y, height - 1, y_low)
        x_low = torch.where(top_x, width - 1, x_low)
        y = torch.where(top_y, y_low.float(), y)
        x = torch.where(top_x, x_low.float(), x)
        y_high = torch.where(top_y, y_low, y_low + 1)
        x_high = torch.where(top_x, x_low, x_low + 1)
        ly, lx = y - y_low, x - x_low
        hy, hx = 1 - ly, 1 - lx
        f = feat[b]
        val = (hy * hx * f[:, y_low, x_low] + hy * lx * f[:, y_low, x_high] +
               ly * hx * f[:, y_high, x_low] + ly * lx * f[:, y_high, x_high])
        val = torch.where(empty, 0., val)
        outs.append(val.view(-1, out, sample, out, sample).mean((2, 4)))
    return torch.stack(outs)


def extract_levels(rois, num_levels, extend_factor=(1.4, 1.2),
                   finest_scale=56):
    """OBBSingleRoIExtractor: enlarged rois and their FPN levels."""
    rois = rois.clone()
    rois[:, 3] *= extend_factor[1]  # w
    rois[:, 4] *= extend_factor[0]  # h
    scale = torch.sqrt(rois[:, 3] * rois[:, 4])
    levels = torch.floor(torch.log2(scale / finest_scale + 1e-6))
    return rois, levels.clamp(0, num_levels - 1).long()


def extract(feats, rois, strides: Sequence[int], extend_factor=(1.4, 1.2),
            out=7, sample=2):
    rois, levels = extract_levels(rois, len(feats), extend_factor)
    result = feats[0].new_zeros(len(rois), feats[0].shape[1], out, out)
    for i, stride in enumerate(strides):
        inds = levels == i
        if inds.any():
            result[inds] = roi_align_rotated(feats[i], rois[inds], 1 / stride,
                                             out, sample)
    return result, levels


def bbox_head(state, prefix, roi_feats, rois):
    """OBBShared2FCBBoxHead forward + OBBoxHead.get_bboxes(cfg=None):
    (decoded obb (n, 5), softmax scores (n, K + 1))."""
    def fc(x, name):
        return F.linear(x, state[f'{prefix}{name}.weight'].float(),
                        state[f'{prefix}{name}.bias'].float())

    x = F.relu(fc(F.relu(fc(roi_feats.flatten(1), 'shared_fcs.0')),
                  'shared_fcs.1'))
    scores = F.softmax(fc(x, 'fc_cls'), dim=1)
    return delta2obb(rois, fc(x, 'fc_reg')), scores


# ------------------------------------------------------------ compare
def poly_distance(p, q):
    """Largest corner distance of two (n, 8) polygon sets, for the best
    matching of corners (any start corner, either direction)."""
    p, q = p.view(-1, 4, 2), q.view(-1, 4, 2)
    best = torch.full((p.shape[0], ), float('inf'))
    for flip in (False, True):
        qq = q.flip(1) if flip else q
        for shift in range(4):
            d = (p - qq.roll(shift, 1)).norm(dim=-1).amax(-1)
            best = torch.minimum(best, d)
    return best
