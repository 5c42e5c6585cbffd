"""FixMatch semi-supervised segmentor. Owner: issue 4."""
