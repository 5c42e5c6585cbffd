import os.path as osp
import sys

# the converters in tools/model_converters import their shared helpers
# (ckpt_utils) as top-level modules, like when run as scripts
CONVERTERS = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'tools',
    'model_converters')
if CONVERTERS not in sys.path:
    sys.path.insert(0, CONVERTERS)
