"""Multi-dataset encoder-decoder (MoE-MDF segmentation). Owner: issue 5."""
