from . import openearthmap, transforms, unlabeled_dataset  # noqa: F401
from . import dior, dota  # noqa: F401
