# Shared helpers live in mdf_det_common.py (a uniquely named module, so that
# tests never import another folder's conftest); the fixtures are re-exported
# here for pytest to find.
from mdf_det_common import moe_cfg, test_sets, tiny_moe_model, train_sets  # noqa: F401
