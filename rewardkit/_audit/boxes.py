"""Boxes and points for the grounding and pointing probes: a line's gold on 0-1000, and responses that state boxes.

A line's gold boxes are read the way `rewards.vision` documents its references (docs/builtin-rewards.md):
a box, a list of boxes or of `{"bbox": [...], "label": ...}` objects, or `{"boxes": [...]}`, in the line's
`box_format` (default "xyxy_pixels", which needs `image_size`). The audit cannot import the reward
(rewardkit never imports `rewards`), so it reads the common shapes; a line it cannot state is left out
with a note, never guessed. Responses state boxes as Qwen3-VL (`bbox_2d`, [x1, y1, x2, y2]) or Gemini
(`box_2d`, [ymin, xmin, ymax, xmax]) do, both on 0-1000: the two conventions a grounding reward reads
without being told (its `box_format="auto"`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

DEFAULT_GOLD_FORMAT = "xyxy_pixels"
_BOX_KEYS = ("bbox", "box", "bbox_2d", "box_2d", "gt_bbox")
_POINT_KEYS = ("point", "point_2d", "gt_point")
BOX_FORMS = ("bbox_2d", "box_2d")  # how the controls and probes write boxes (the audit keeps the better one)


@dataclass(frozen=True)
class GoldBox:
    """A gold box on 0-1000, [x1, y1, x2, y2], with its label."""

    box: tuple[float, float, float, float]
    label: str | None = None

    @property
    def center(self) -> tuple[float, float]:
        return (self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2


def _data(value: Any) -> Any:
    if isinstance(value, str) and value.strip()[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def _numbers(value: Any, count: int) -> list[float] | None:
    if isinstance(value, list) and len(value) == count and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value):
        return [float(v) for v in value]
    return None


def _scale(name: str, references: Mapping[str, Any]) -> tuple[float, float] | None:
    """What divides x and y to reach 0-1 for a convention; None when the line lacks what it needs."""
    if name.endswith("_1000"):
        return 1000.0, 1000.0
    if name.endswith("_unit"):
        return 1.0, 1.0
    size = _data(references.get("image_size"))
    if isinstance(size, Mapping):
        size = [size.get("width"), size.get("height")]
    numbers = _numbers(size, 2)
    return (numbers[0], numbers[1]) if numbers and min(numbers) > 0 else None


def _to_1000(numbers: Sequence[float], name: str, scale: tuple[float, float]) -> tuple[float, float, float, float]:
    a, b, c, d = numbers
    if name.startswith("yxyx"):
        a, b, c, d = b, a, d, c
    elif name.startswith("xywh"):
        c, d = a + c, b + d
    x1, x2 = sorted((a * 1000 / scale[0], c * 1000 / scale[0]))
    y1, y2 = sorted((b * 1000 / scale[1], d * 1000 / scale[1]))
    return round(x1, 1), round(y1, 1), round(x2, 1), round(y2, 1)


def gold_boxes(gold: Any, references: Mapping[str, Any]) -> list[GoldBox] | None:
    """The line's gold boxes on 0-1000, or None when they are not in a shape and convention the audit can state."""
    name = str(references.get("box_format") or DEFAULT_GOLD_FORMAT)
    scale = _scale(name, references)
    items = _data(gold)
    if isinstance(items, Mapping) and "boxes" in items:
        items = _data(items["boxes"])
    if scale is None or items is None:
        return None
    if _numbers(items, 4) is not None or isinstance(items, Mapping):
        items = [items]
    if not isinstance(items, list) or not items:
        return None
    out = []
    for item in items:
        obj = item if isinstance(item, Mapping) else {}
        numbers = next((_numbers(obj[k], 4) for k in _BOX_KEYS if k in obj), None) if obj else _numbers(item, 4)
        if numbers is None:
            point = next((_numbers(obj[k], 2) for k in _POINT_KEYS if k in obj), None)
            if point is None:
                return None
            numbers = [point[0], point[1], point[0], point[1]] if not name.startswith("xywh") else [*point, 0, 0]
        label = obj.get("label") if isinstance(obj.get("label"), str) else None
        out.append(GoldBox(_to_1000(numbers, name, scale), label))
    return out


def stated(boxes: Sequence[Sequence[float]], form: str, labels: Sequence[str | None] = ()) -> str:
    """Boxes on 0-1000 ([x1, y1, x2, y2]) as a response writes them in `form` ("bbox_2d" or "box_2d")."""
    out = []
    for index, box in enumerate(boxes):
        x1, y1, x2, y2 = (round(v) for v in box)
        item: dict[str, Any] = {form: [y1, x1, y2, x2] if form == "box_2d" else [x1, y1, x2, y2]}
        label = labels[index] if index < len(labels) else None
        if label:
            item["label"] = label
        out.append(item)
    return "```json\n" + json.dumps(out) + "\n```"


def _overlaps(a: Sequence[float], b: Sequence[float]) -> bool:
    return min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])


def away(box: Sequence[float], golds: Sequence[GoldBox]) -> tuple[float, float, float, float]:
    """A box of the same size that overlaps no gold box (mirrored, else moved to a corner): the wrong answer."""
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    mirrored = [(1000 - x2, y1, 1000 - x1, y2), (x1, 1000 - y2, x2, 1000 - y1)]
    mirrored.append((1000 - x2, 1000 - y2, 1000 - x1, 1000 - y1))
    corners = [(left, top, left + w, top + h) for left in (0, 1000 - w) for top in (0, 1000 - h)]
    candidates = mirrored + corners
    for candidate in candidates:
        if not any(_overlaps(candidate, g.box) for g in golds):
            return candidate
    return candidates[0]
