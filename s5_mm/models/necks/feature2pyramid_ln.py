"""Feature2Pyramid with a channel LayerNorm (authors' neck layout). Owner: issue 3."""
