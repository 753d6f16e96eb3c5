"""Vision rewards: `grounding_iou` (boxes against gold boxes) and `point_in_box` (a click against a target).

Boxes and points are read in the conventions models emit (Gemini, Qwen3-VL, Qwen2.5-VL, plain lists with a
declared convention) and compared on the image's own frame. Pillow (the `vision` extra) is imported only
when an image's size must be read from the image.
"""

from .grounding import grounding_iou
from .pointing import point_in_box

__all__ = ["grounding_iou", "point_in_box"]
