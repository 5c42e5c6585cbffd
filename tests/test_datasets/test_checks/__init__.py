"""A package, so its test modules are imported as ``test_checks.<name>``:
``test_report.py`` here (``s5_mm/datasets/checks/report.py``) and
``tests/test_converters/test_report.py`` (``s5_mm/converters/report.py``)
mirror modules of the same basename, which pytest's default ``prepend``
import mode cannot import both as top-level ``test_report``."""
