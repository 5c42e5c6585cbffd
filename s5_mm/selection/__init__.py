"""Entropy + diversity selection of unlabeled images (issue 7)."""
