"""mmrotate's DOTAMetric plus the mAP of the merged full scenes."""
import contextlib
from collections import OrderedDict
from typing import Optional, Sequence

from mmengine.logging import MMLogger
from mmrotate.evaluation import DOTAMetric, eval_rbbox_map
from mmrotate.registry import METRICS

from .dota_scenes import (load_scene_labels, merge_patch_predictions,
                          write_task1_submission)
from .in_process_tpfp import in_process_tpfp


@METRICS.register_module()
class FullSceneDOTAMetric(DOTAMetric):
    """DOTA scored as the evaluation server scores it: on whole scenes.

    The paper's DOTA-v2 numbers are the server's, on the original scenes,
    while the model sees the 1024 px patches of mmrotate's split tool. This
    metric keeps mmrotate's patch mAP (``mAP``, ``AP50``) and adds, from the
    same predictions, ``mAP_full_scene`` / ``AP50_full_scene``: every
    scene's patches merged (offsets from the patch names, class-wise rotated
    NMS at ``iou_thr``) and scored with mmrotate's ``eval_rbbox_map`` against
    the raw ``labelTxt`` of the scenes (:mod:`s5_mm.evaluation.dota_scenes`).
    With the default prefix the log shows ``dota/mAP_full_scene``.

    With ``merge_patches=True`` (mmrotate's switch) the merged scenes are
    written as the server's Task1 submission (``<outfile_prefix>/`` with
    ``Task1_<class>.txt`` and a zip) instead of the patch mAP; add
    ``format_only=True`` for the test set, which has no labels.

    Args:
        full_scene_ann_dir (str, optional): folder of the scenes' raw DOTA
            ``labelTxt`` files. Required unless ``format_only``.
        full_scene_diff_thr (int): scene objects with a difficulty above it
            are ignored. Defaults to 0 (DOTA_devkit's evaluation ignores
            ``difficult`` = 1).
        in_process (bool): compute mmrotate's TP / FP in this process
            (:func:`~s5_mm.evaluation.in_process_tpfp.in_process_tpfp`)
            instead of a new pool of 4 processes. Defaults to True.
        **kwargs: arguments of mmrotate's ``DOTAMetric`` (``iou_thrs``,
            ``iou_thr`` of the merge NMS (0.1), ``eval_mode``,
            ``merge_patches``, ``format_only``, ``outfile_prefix``, ...).
    """

    def __init__(self,
                 full_scene_ann_dir: Optional[str] = None,
                 full_scene_diff_thr: int = 0,
                 in_process: bool = True,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if self.predict_box_type != 'rbox':
            raise ValueError(
                'FullSceneDOTAMetric merges rotated boxes: set '
                f"predict_box_type='rbox' (got '{self.predict_box_type}')")
        if full_scene_ann_dir is None and not self.format_only:
            raise ValueError(
                'FullSceneDOTAMetric needs full_scene_ann_dir (the raw DOTA '
                'labelTxt folder of the scenes) to score the merged scenes; '
                'only format_only=True (a test-set submission) goes without')
        self.full_scene_ann_dir = full_scene_ann_dir
        self.full_scene_diff_thr = full_scene_diff_thr
        self.in_process = in_process

    def merge_results(self, results: Sequence[dict],
                      outfile_prefix: str) -> str:
        """Write the merged scenes as a Task1 submission (mmrotate's hook
        for ``merge_patches``); returns the zip's path."""
        classes = self.dataset_meta['classes']
        merged = merge_patch_predictions(results, len(classes), self.iou_thr)
        return write_task1_submission(merged, classes, outfile_prefix)

    def compute_metrics(self, results: list) -> dict:
        """mmrotate's results, then the full-scene mAP (unless
        ``format_only``)."""
        with in_process_tpfp() if self.in_process else \
                contextlib.nullcontext():
            eval_results = super().compute_metrics(results)
            if self.format_only:
                return eval_results
            eval_results.update(self.full_scene_metrics(
                [pred for _, pred in results]))
        return eval_results

    def full_scene_metrics(self, preds: Sequence[dict]) -> dict:
        """``AP<iou>_full_scene`` and ``mAP_full_scene`` of the merged
        patch predictions ``preds`` (mmrotate's per-patch result dicts)."""
        logger: MMLogger = MMLogger.get_current_instance()
        classes = self.dataset_meta['classes']
        merged = merge_patch_predictions(preds, len(classes), self.iou_thr)
        scenes = list(merged)
        annotations = load_scene_labels(self.full_scene_ann_dir, scenes,
                                        classes, self.full_scene_diff_thr)
        logger.info(f'full-scene DOTA: {len(preds)} patches merged into '
                    f'{len(scenes)} scenes, labels from '
                    f'{self.full_scene_ann_dir}')
        out, mean_aps = OrderedDict(), []
        for iou_thr in self.iou_thrs:
            logger.info(f'\n{"-" * 15}full scenes, iou_thr: {iou_thr}'
                        f'{"-" * 15}')
            mean_ap, _ = eval_rbbox_map(
                list(merged.values()), annotations,
                scale_ranges=self.scale_ranges, iou_thr=iou_thr,
                use_07_metric=self.use_07_metric, box_type='rbox',
                dataset=classes, logger=logger)
            mean_aps.append(mean_ap)
            out[f'AP{int(iou_thr * 100):02d}_full_scene'] = round(mean_ap, 3)
        out['mAP_full_scene'] = sum(mean_aps) / len(mean_aps)
        out.move_to_end('mAP_full_scene', last=False)
        return out

