"""Checkpoint conversion from other codebases' layouts to s5_mm's models
(the S5 authors' released files); the command line is
``tools/model_converters/s5_to_s5mm.py``."""
