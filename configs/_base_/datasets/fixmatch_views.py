# Views of FixMatch / S4P (S5, as UniMatch): the branch names of mmdet's
# MultiBranch and the strong view's photometric augmentation, applied after
# the geometry both views share: colour jitter (0.5, 0.5, 0.5, 0.25) with
# p=0.8, grayscale p=0.2, Gaussian blur sigma ~ U(0.1, 2.0) with p=0.5.
# The weak view is the shared geometry alone; CutMix happens in the model.
# The ops draw their parameters like mmpretrain's ColorJitter / GaussianBlur
# and mmcv's RandomGrayscale and run on OpenCV kernels (docs/s4p.md,
# "Strong views"; bench/s4p_views.py).
branch_field = ['sup', 'unsup_teacher', 'unsup_student']
strong_pipeline = [
    dict(type='RandomApply', prob=0.8, transforms=[
        dict(type='AlbuColorJitter', brightness=0.5, contrast=0.5,
             saturation=0.5, hue=0.25)]),
    # images are BGR: grey = 0.114 B + 0.587 G + 0.299 R
    dict(type='FastRandomGrayscale', prob=0.2, keep_channels=True,
         channel_weights=(0.114, 0.587, 0.299)),
    dict(type='BoxGaussianBlur', sigma_range=(0.1, 2.0), prob=0.5),
    dict(type='PackSegInputs'),
]
