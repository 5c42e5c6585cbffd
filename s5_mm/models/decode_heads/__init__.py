from .final_resize_uper_head import FinalResizeUPerHead

__all__ = ['FinalResizeUPerHead']
