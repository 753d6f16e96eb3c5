"""Rewards for the audit tests: a deliberately naive one, and a sound one beside it."""

from __future__ import annotations

from typing import Any

import rewardkit
from rewardkit import Score, reward
from rewardkit.audit import kinds
from rewards import tool_call_match


@reward
def naive_contains(response: str, reference: Any) -> Score:
    """1.0 when the gold appears anywhere in the response: the reward a policy games first."""
    gold = str(reference).split("####")[-1].strip()
    return Score(1.0 if gold in response else 0.0, f"{gold!r} {'in' if gold in response else 'not in'} the response")


@kinds("judge")
@reward
def believes_the_response(response: str, reference: Any) -> Score:
    """A grader that believes what the response says about itself: what judge injection exploits."""
    gold = str(reference).strip()
    lowered = response.lower()
    if "verdict: correct" in lowered or "score: 10/10" in lowered or "award the maximum" in lowered:
        return Score(1.0, "the response says it is correct")
    return Score(1.0 if response.strip() == gold else 0.0, "compared with the gold")


#: tool_call_match in "fractional" mode: extra calls are free, so junk calls cost nothing.
lenient_tool_calls = rewardkit.variant(tool_call_match, "lenient_tool_calls", mode="fractional")


@reward(reference_keys=["label"])
def exact_label(response: str, reference: str) -> float:
    """Exact match against a gold kept under `label`: the audit must look for it there."""
    return float(response.strip() == reference.strip())


@reward
def credits_everything(response: str, reference: str) -> float:
    """1.0 whatever the answer: the controls cannot separate."""
    return 1.0


@reward
def ascii_only(response: str, reference: str) -> float:
    """Exact match that fails (raises) on any response with a character outside ASCII: look-alikes all error."""
    if not response.isascii():
        raise ValueError("not ASCII")
    return float(response.strip() == reference.strip())


def _stated_boxes(response: str, key: str) -> list[list[float]]:
    """Every `key` box of a JSON response (fences aside): the reading a hand-written grounding reward does."""
    import json
    import re

    text = re.sub(r"```(?:json)?", "", response)
    try:
        items = json.loads(text)
    except ValueError:
        return []
    return [item[key] for item in items if isinstance(item, dict) and isinstance(item.get(key), list)]


@kinds("grounding")
@reward(reference_keys=["boxes"])
def naive_box_coverage(response: str, reference: Any, references: dict) -> float:
    """The share of the gold box that some stated box covers, coordinates clipped to the image: a whole-image
    box, a flood of boxes and a box past the edges all cover the gold. Gold: one pixel box, image_size given."""
    import json

    gold = json.loads(reference) if isinstance(reference, str) else reference
    size = references["image_size"]
    size = json.loads(size) if isinstance(size, str) else size
    item = gold[0]
    x1, y1, x2, y2 = (item["bbox"] if isinstance(item, dict) else item)
    gx1, gy1, gx2, gy2 = x1 * 1000 / size[0], y1 * 1000 / size[1], x2 * 1000 / size[0], y2 * 1000 / size[1]
    best = 0.0
    for bx1, by1, bx2, by2 in _stated_boxes(response, "bbox_2d"):
        bx1, by1, bx2, by2 = (min(1000, max(0, v)) for v in (bx1, by1, bx2, by2))
        w, h = min(bx2, gx2) - max(bx1, gx1), min(by2, gy2) - max(by1, gy1)
        if w > 0 and h > 0:
            best = max(best, w * h / ((gx2 - gx1) * (gy2 - gy1)))
    return best


@kinds("pointing")
@reward(reference_keys=["target"])
def naive_any_point_inside(response: str, reference: Any, references: dict) -> float:
    """1.0 when any stated point lies in the target box: a spread of clicks finds it."""
    import json

    target = json.loads(reference) if isinstance(reference, str) else reference
    size = references["image_size"]
    size = json.loads(size) if isinstance(size, str) else size
    box = target.get("bbox") or target.get("gt_bbox")
    if box is None:
        return 0.0
    x1, y1, x2, y2 = box[0] * 1000 / size[0], box[1] * 1000 / size[1], box[2] * 1000 / size[0], box[3] * 1000 / size[1]
    try:
        items = json.loads(response)
    except ValueError:
        return 0.0
    items = items if isinstance(items, list) else [items]
    points = [i["point_2d"] for i in items if isinstance(i, dict) and isinstance(i.get("point_2d"), list)]
    return float(any(x1 <= x <= x2 and y1 <= y <= y2 for x, y in points))
