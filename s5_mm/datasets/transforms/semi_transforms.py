"""Transforms for semi-supervised segmentation views. Owner: issue 4."""
