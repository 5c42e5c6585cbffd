# Loader settings shared by the single-dataset (SDF) detection configs
# (configs/mdf_det/sdf_*.py): 2 images per GPU, whole-image evaluation one at
# a time. A config adds `dataset=...` (and its evaluator) from its dataset
# base file (dior_r.py, dota_v2.py).
train_dataloader = dict(
    batch_size=2,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=None)
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False))
test_dataloader = val_dataloader
