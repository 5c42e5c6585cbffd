from . import openearthmap, transforms, unlabeled_dataset  # noqa: F401
from . import dota  # noqa: F401
from . import s5_openearthmap  # noqa: F401
