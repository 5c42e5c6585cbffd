# RS4P unlabeled images for S4P: the images the S5 data selector picked
# (tools/select_data.py writes the split file: one path a line, relative to
# `rs4p_data_root`, e.g. MillionAID's test/ folder). Only `rs4p_`-prefixed
# variables; the semi-supervised config sets the pipeline.
rs4p_data_root = 'data/rs4p'
rs4p_split_file = 'splits/rs4p-1m.txt'  # relative to rs4p_data_root
rs4p_unlabeled_dataset = dict(
    type='UnlabeledImageDataset',
    data_root=rs4p_data_root,
    ann_file=rs4p_split_file,  # '' reads every image under data_root instead
    data_prefix=dict(img_path=''))
