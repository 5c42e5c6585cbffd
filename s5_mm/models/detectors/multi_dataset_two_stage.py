"""Multi-dataset oriented two-stage detector (MoE-MDF detection). Owner: issue 6."""
