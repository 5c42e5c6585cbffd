"""Unlabeled image dataset (folder or split file). Owner: issue 4."""
