"""The GPU check's selector path: the whole data selector (score with a
segmenter on the device, faiss K-Means, quotas) on the bundled pools."""
import math
import os.path as osp
import time
from typing import Any, Dict

from mmengine.config import Config

from .recipes import config_root

SEGMENTER = 'demo/upernet_vit-tiny_1xb4-60iter_loveda-sample-64x64.py'
BUDGET = 10


def run_selector(device: str, work_dir: str,
                 data_root: str) -> Dict[str, Any]:
    """Score the bundled unlabeled scenes and LoveDA crops with the demo's
    tiny segmenter (random weights) on ``device``, cluster the labeled
    features into 2 clusters (faiss on the GPU when it sees one) and select
    :data:`BUDGET` images: ``tools/select_data.py all`` in one call.

    Returns:
        dict: ``status`` ('failed' unless every image is scored with a
        finite entropy and exactly the budget is selected), ``images``,
        ``images_per_s``, ``selected``, ``faiss_gpu``.
    """
    from mmseg.apis import init_model

    from s5_mm.selection import (SelectionSettings, build_scoring_pipeline,
                                 list_pool, run_selection)
    cfg = Config.fromfile(osp.join(config_root(), SEGMENTER))
    cfg.model.pretrained = None
    model = init_model(cfg, None, device='cuda:0' if device == 'cuda'
                       else 'cpu')
    unlabeled = osp.join(data_root, 'unlabeled')
    labeled = osp.join(data_root, 'loveda', 'img_dir')
    pools = dict(unlabeled=(unlabeled, list_pool(unlabeled)),
                 labeled=(labeled, list_pool(labeled)))
    settings = SelectionSettings(num_clusters=2, budget=BUDGET,
                                 shard_size=32, batch_size=8, num_workers=0)
    start = time.perf_counter()
    summary = run_selection(model, build_scoring_pipeline(cfg),
                            osp.join(work_dir, 'selector'), pools, settings)
    seconds = time.perf_counter() - start
    images = sum(len(paths) for _, paths in pools.values())
    out = dict(images=images, images_per_s=round(images / seconds, 2),
               selected=summary['selected'], candidates=summary['candidates'],
               faiss_gpu=settings.gpu != 'off' and device == 'cuda')
    if summary['candidates'] != len(pools['unlabeled'][1]):
        return dict(status='failed', reason=f"{summary['candidates']} of "
                    f"{len(pools['unlabeled'][1])} unlabeled images scored",
                    **out)
    if not math.isfinite(summary['mean_entropy_pool']):
        return dict(status='failed', reason='entropy not finite', **out)
    if summary['selected'] != BUDGET:
        return dict(status='failed', reason=f"{summary['selected']} images "
                    f'selected for a budget of {BUDGET}', **out)
    return dict(status='ok', **out)
