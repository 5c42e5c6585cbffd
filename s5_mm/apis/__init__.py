"""Inference APIs, where mmseg and mmdet keep theirs: model init from config
+ checkpoint, dataset lookup by name and metainfo, single-image and
large-scene (patch-wise) inference from a scene source (array or raster
file) to a sink (array, GeoTIFF, GeoPackage), drawing."""
from s5_mm.datasets.dataset_lookup import (dataset_metainfo, dataset_names,
                                          find_dataset, find_dataset_cfg,
                                          iter_dataset_cfgs,
                                          pipeline_dataset_name)
from .inference import (build_inference_pipeline, inference_image,
                        inference_images, init_model,
                        init_predictor)
from .geo_export import GeoPackageBoxSink, box_corners, write_polygons
from .large_scene import (classwise_rotated_nms,
                          inference_detector_large_scene,
                          inference_detector_scene,
                          inference_segmentor_large_scene,
                          inference_segmentor_scene, patch_offsets,
                          scene_windows)
from .scene_sink import (NODATA, ArrayBoxSink, ArrayLabelSink, FileBoxSink,
                         RasterLabelSink)
from .scene_source import ArraySource, RasterSource, scene_env
from .tool_config import load_tool_config
from .visualization import (blend_segmentation, downscale_for_drawing,
                            draw_rotated_boxes)

__all__ = [
    'load_tool_config',
    'dataset_metainfo', 'dataset_names', 'find_dataset', 'find_dataset_cfg',
    'iter_dataset_cfgs', 'pipeline_dataset_name', 'build_inference_pipeline',
    'inference_image', 'inference_images', 'init_model', 'init_predictor',
    'inference_detector_large_scene', 'inference_segmentor_large_scene',
    'patch_offsets', 'classwise_rotated_nms', 'blend_segmentation',
    'downscale_for_drawing', 'draw_rotated_boxes',
    'inference_detector_scene', 'inference_segmentor_scene',
    'scene_windows', 'ArraySource', 'RasterSource', 'ArrayLabelSink',
    'RasterLabelSink', 'ArrayBoxSink', 'FileBoxSink', 'GeoPackageBoxSink',
    'NODATA', 'box_corners', 'write_polygons', 'scene_env'
]
