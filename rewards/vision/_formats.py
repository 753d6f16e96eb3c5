"""The coordinate conventions, by name; the image size; the gold boxes and points of the references.

A name is declared once here and read by both rewards, their docs and their option types.
"""

from __future__ import annotations

import json
import math
from typing import Any, Literal, Mapping, Sequence, get_args

from rewardkit import InvalidReferenceError, Media, MissingReferenceError
from rewardkit.media import image_size as media_image_size

from ._geometry import Box, Frame, Point, to_box, to_point

# How a response writes its boxes. "auto" reads the key: `box_2d` is Gemini's, `bbox_2d` Qwen3-VL's.
BoxFormat = Literal["auto", "gemini", "qwen3", "qwen2.5", "xyxy_1000", "yxyx_1000", "xyxy_pixels", "xyxy_unit"]
# How the references write the gold boxes (per line: references `box_format`).
GoldFormat = Literal["xyxy_pixels", "xywh_pixels", "xyxy_1000", "yxyx_1000", "xyxy_unit"]

FRAMES: dict[str, Frame] = {
    # Gemini: [ymin, xmin, ymax, xmax] on 0-1000 (Vertex AI "bounding box detection" docs; the cookbook above).
    "gemini": Frame("yxyx", "1000"),
    # Qwen3-VL: [x1, y1, x2, y2] on 0-1000 (QwenLM/Qwen3-VL cookbooks/2d_grounding.ipynb).
    "qwen3": Frame("xyxy", "1000"),
    # Qwen2.5-VL: absolute pixels of the image after its processor's smart_resize (see input_size below).
    "qwen2.5": Frame("xyxy", "input_pixels"),
    "xyxy_1000": Frame("xyxy", "1000"), "yxyx_1000": Frame("yxyx", "1000"),
    "xyxy_pixels": Frame("xyxy", "pixels"), "xywh_pixels": Frame("xywh", "pixels"),
    "xyxy_unit": Frame("xyxy", "unit"),
}
AUTO_KEYS = {"box_2d": "gemini", "bbox_2d": "qwen3", "box_start": "qwen3"}
GOLD_FORMATS: tuple[str, ...] = get_args(GoldFormat)

# Qwen2.5-VL's processor (preprocessor_config.json of Qwen/Qwen2.5-VL-*-Instruct): the resized side is a
# multiple of 28 and the area lies in [min_pixels, max_pixels].
QWEN_FACTOR, QWEN_MIN_PIXELS, QWEN_MAX_PIXELS = 28, 3136, 12845056


def json_value(value: Any) -> Any:
    """A references value as data: Vertex references are string to string, so JSON text is decoded."""
    if isinstance(value, str) and value.strip()[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _size_value(value: Any, where: str) -> tuple[float, float]:
    value = json_value(value)
    if isinstance(value, Mapping):
        value = [value.get("width"), value.get("height")]
    if isinstance(value, str) and "x" in value:
        value = value.lower().split("x", 1)
    try:
        width, height = (float(v) for v in value)
    except (TypeError, ValueError):
        raise InvalidReferenceError(f"{where} must be [width, height] or {{\"width\", \"height\"}}, "
                                    f"got {value!r}") from None
    if not (math.isfinite(width) and math.isfinite(height) and width > 0 and height > 0):
        raise InvalidReferenceError(f"{where} must be two positive numbers, got {value!r}")
    return width, height


def image_size(references: Mapping[str, Any], images: Sequence[Media]) -> tuple[float, float] | None:
    """(width, height) of the original image: references `image_size`, else the first image's header."""
    if references.get("image_size") is not None:
        return _size_value(references["image_size"], "references.image_size")
    if images:
        return media_image_size(images[0])  # MediaError (MEDIA_UNSUPPORTED, MEDIA_TOO_LARGE) when it cannot
    return None


def smart_resize(width: float, height: float, min_pixels: int, max_pixels: int) -> tuple[int, int]:
    """The (width, height) Qwen2.5-VL's processor resizes an image to: each side a multiple of 28, the area
    within [min_pixels, max_pixels], the aspect ratio kept as nearly as it can.

    After `smart_resize` in huggingface/transformers, src/transformers/models/qwen2_vl/image_processing_qwen2_vl.py.
    """
    f = QWEN_FACTOR
    h_bar, w_bar = max(f, round(height / f) * f), max(f, round(width / f) * f)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h_bar, w_bar = max(f, math.floor(height / beta / f) * f), max(f, math.floor(width / beta / f) * f)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar, w_bar = math.ceil(height * beta / f) * f, math.ceil(width * beta / f) * f
    return w_bar, h_bar


class Sizes:
    """The sizes a conversion may need, read only when a frame in pixels asks (no image decoded otherwise)."""

    def __init__(self, references: Mapping[str, Any], images: Sequence[Media], min_pixels: int,
                 max_pixels: int) -> None:
        self._references, self._images = references, images
        self._min, self._max = min_pixels, max_pixels
        self._original: tuple[float, float] | None = None

    def original(self) -> tuple[float, float]:
        if self._original is None:
            self._original = image_size(self._references, self._images)
            if self._original is None:
                raise MissingReferenceError(
                    "boxes in pixels need the image's size: send the image, or give references.image_size "
                    "as [width, height]")
        return self._original

    def for_frame(self, frame: Frame) -> tuple[float, float] | None:
        if frame.scale == "pixels":
            return self.original()
        if frame.scale == "input_pixels":
            if self._references.get("input_size") is not None:
                return _size_value(self._references["input_size"], "references.input_size")
            return smart_resize(*self.original(), self._min, self._max)
        return None


def gold_frame(references: Mapping[str, Any], default: str) -> tuple[str, Frame]:
    """The gold's convention: references `box_format` when the line gives one, else the reward's option."""
    name = references.get("box_format", default)
    if name not in GOLD_FORMATS:
        raise InvalidReferenceError(f"references.box_format must be one of {', '.join(GOLD_FORMATS)}, got {name!r}")
    return str(name), FRAMES[str(name)]


def _gold_items(gold: Any) -> list[Any]:
    gold = json_value(gold)
    if isinstance(gold, Mapping) and isinstance(json_value(gold.get("boxes")), list):
        gold = json_value(gold["boxes"])
    if isinstance(gold, list) and len(gold) == 4 and all(isinstance(v, (int, float)) for v in gold):
        return [gold]
    return gold if isinstance(gold, list) else [gold]


def _gold_numbers(item: Any, keys: Sequence[str]) -> tuple[Sequence[float] | None, Mapping[str, Any]]:
    if isinstance(item, Mapping):
        for key in keys:
            if key in item:
                return item[key], item
        return None, item
    return item, {}


def _checked(numbers: Any, count: int, where: str) -> list[float]:
    if (not isinstance(numbers, (list, tuple)) or len(numbers) != count
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in numbers)):
        raise InvalidReferenceError(f"{where} must be {count} finite numbers, got {numbers!r}")
    return [float(v) for v in numbers]


def gold_boxes(gold: Any, frame: Frame, sizes: Sizes, box_keys: Sequence[str]) -> list[Box]:
    """The gold boxes: a box, a list of boxes, `{"bbox": [...], "label": ...}` objects or `{"boxes": [...]}`."""
    items = _gold_items(gold)
    if not items:
        raise InvalidReferenceError("the gold holds no box (an empty list): give at least one")
    size = sizes.for_frame(frame)
    boxes = []
    for index, item in enumerate(items):
        numbers, obj = _gold_numbers(item, box_keys)
        box = to_box(_checked(numbers, 4, f"gold box {index}"), frame, size,
                     str(obj["label"]) if isinstance(obj.get("label"), str) else None)
        if box.problem:
            raise InvalidReferenceError(f"gold box {index} {list(numbers or ())} is {box.problem.replace('_', ' ')} "
                                        f"in {frame.order} on {frame.scale} (image size {size}): is box_format right?")
        boxes.append(box)
    return boxes


def gold_target(gold: Any, frame: Frame, sizes: Sizes, box_keys: Sequence[str],
                point_keys: Sequence[str]) -> tuple[Box | None, Point | None, Mapping[str, Any]]:
    """A pointing target: a box, or a point (with `radius`), and the object it came from (its action)."""
    item = json_value(gold)
    if isinstance(item, list) and len(item) == 1 and isinstance(item[0], Mapping):
        item = item[0]
    numbers, obj = _gold_numbers(item, box_keys)
    size = sizes.for_frame(frame)
    if numbers is not None and isinstance(numbers, (list, tuple)) and len(numbers) == 4:
        return to_box(_checked(numbers, 4, "the gold box"), frame, size), None, obj
    numbers, obj = _gold_numbers(item, point_keys)
    if numbers is None or not isinstance(numbers, (list, tuple)) or len(numbers) != 2:
        raise InvalidReferenceError(f"the gold must be a box ({', '.join(box_keys)}: 4 numbers) or a point "
                                    f"({', '.join(point_keys)}: 2 numbers), got {gold!r}"[:400])
    x, y = _checked(numbers, 2, "the gold point")
    order: Literal["xy", "yx"] = "yx" if frame.order == "yxyx" else "xy"
    return None, to_point((x, y), order, frame.scale, size), obj
