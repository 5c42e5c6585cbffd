"""Print the number of parameters of a config's model, in millions.

    python tools/analysis_tools/count_params.py CONFIG [--cfg-options k=v ...]

The model is built with its parameters on the meta device (no memory is
allocated and nothing is initialised), so even ViT-H counts in a second.
"""
import argparse
from typing import Optional

import torch
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope

import s5_mm  # noqa: F401
from s5_mm.utils.meta_device import MetaTensors


def count_params(cfg: Config, trainable_only: bool = False) -> float:
    """Parameters of ``cfg.model`` in millions (built on the meta device)."""
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    from mmengine.registry import MODELS
    with MetaTensors():
        model = MODELS.build(cfg.model)
    return sum(p.numel() for p in model.parameters()
               if p.requires_grad or not trainable_only) / 1e6


def parse_args(argv: Optional[list] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Count model parameters')
    parser.add_argument('config', help='config file')
    parser.add_argument('--trainable', action='store_true',
                        help='count only parameters with requires_grad')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value pairs')
    return parser.parse_args(argv)


def main(argv: Optional[list] = None) -> None:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    count = count_params(cfg, args.trainable)
    print(f'{count:.2f}M parameters: {args.config}')


if __name__ == '__main__':
    main()
