from . import openearthmap, transforms, unlabeled_dataset  # noqa: F401
