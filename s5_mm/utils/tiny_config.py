"""Shipped configs shrunk to tiny models (embed 32, 4 layers, 64-128 px), for
the GPU check's quick paths and the tests: the configs users run, only
smaller. Only widths, depths and sizes change; every component and option
stays."""
# channel widths of ViT-B / UPerNet / FPN / Oriented R-CNN -> tiny ones
_WIDTHS = {1280: 32, 1024: 32, 768: 32, 512: 16, 384: 16, 256: 16, 128: 16}
_WIDTH_KEYS = ('embed_dims', 'embed_dim', 'in_channels', 'out_channels',
               'channels', 'feat_channels', 'fc_out_channels')


def shrink_cfg(node, parent_key=None):
    """``node`` (a config dict / list) with ViT-B-size widths, depth and
    sizes replaced by tiny ones (a new object; ``node`` is unchanged)."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key in _WIDTH_KEYS and not (key == 'in_channels'
                                           and value == 3):
                if isinstance(value, (list, tuple)):
                    value = [_WIDTHS.get(v, v) for v in value]
                else:
                    value = _WIDTHS.get(value, value)
            elif key == 'num_layers' and 'embed_dims' in node:
                value = 4
            elif key == 'out_indices' and 'embed_dims' in node:
                value = (0, 1, 2, 3)
            elif key == 'num_heads':
                value = 2
            elif key == 'expert_channels':
                value = 8
            elif key in ('img_size', 'crop_size', 'size') and \
                    isinstance(value, (list, tuple)) and len(value) == 2 \
                    and value[0] >= 512:
                value = (64, 64)
            elif key == 'stride' and isinstance(value, (list, tuple)) and \
                    len(value) == 2 and value[0] >= 256:
                value = (48, 48)
            elif key == 'scale' and isinstance(value, (list, tuple)) and \
                    len(value) == 2 and value[0] >= 512:
                value = (128, 128)
            out[key] = shrink_cfg(value, key)
        return out
    if isinstance(node, (list, tuple)):
        return type(node)(shrink_cfg(v, parent_key) for v in node)
    return node
