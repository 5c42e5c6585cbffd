# Loader settings shared by the single-dataset (SDF) segmentation configs:
# 12 crops per GPU, infinite sampler, whole-image evaluation one at a time.
# A config adds `dataset=...` (and its evaluator) from its dataset base file.
train_dataloader = dict(
    batch_size=12,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False))
test_dataloader = val_dataloader
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
