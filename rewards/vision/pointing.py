"""`point_in_box`: a click or pointing answer against a target box, or a target point and a radius.

The GUI-agent rewards this follows read one action from `<answer>` tags and check its point: GUI-R1
(icey-zhang/GUI-R1, verl/utils/reward_score/r1gui.py) reads `[{'action': 'click', 'point': [x, y]}]` (or
`click(point='x,y')`), requires the action to equal the gold's, and credits a click inside the gold's
`gt_bbox`; UI-R1 reads `[{'action': 'click', 'coordinate': [x, y]}]` the same way. Both parse the answer
with ast; here Python literals go through `ast.literal_eval` only (it builds values and runs nothing).

Departures, on purpose: an answer that states several different points scores 0 (a spread of clicks
is a hedge, not an answer); a point past the image's edge scores 0; the action is compared only where
the answer carries one (the brief for a pointing reward), with aliases (`tap`, `left_click` are `click`).
"""

from __future__ import annotations

from typing import Any, Literal, Mapping, Sequence, get_args

from rewardkit import InvalidReferenceError, Media, Score, reward
from rewardkit.registry import DEFAULT_REFERENCE_KEYS

from ..common.options import OptionError, require_choice
from ._formats import QWEN_MAX_PIXELS, QWEN_MIN_PIXELS, GoldFormat, Sizes, gold_frame, gold_target
from ._geometry import Frame, Point, Scale, distance, inside, to_point
from ._read import BOX_KEYS, POINT_KEYS, Flood, answer_text, call_action, found

# How a response writes a point. "auto" reads Qwen3-VL's `point_2d` [x, y] on 0-1000 and UI-TARS's
# `<point>x y</point>` on 0-1000; every other key, and a bare pair, needs the convention declared.
PointFormat = Literal["auto", "gemini", "qwen3", "qwen2.5", "xy_pixels", "xy_1000", "yx_1000"]
_CONVENTIONS: dict[str, tuple[Literal["xy", "yx"], Scale]] = {
    "gemini": ("yx", "1000"),  # Gemini points: [y, x] on 0-1000
    "qwen3": ("xy", "1000"), "xy_1000": ("xy", "1000"), "yx_1000": ("yx", "1000"),
    "qwen2.5": ("xy", "input_pixels"), "xy_pixels": ("xy", "pixels"),
}
_AUTO = {"point_2d": "qwen3", "point_tag": "qwen3"}
ALIASES = {"tap": "click", "left_click": "click", "left_single": "click", "press": "click"}
METRICS = ("hit", "action_match", "points", "distance")


def _action(name: str | None) -> str | None:
    if not name:
        return None
    key = name.strip().lower().replace(" ", "_")
    return ALIASES.get(key, key)


def _points(text: str, point_format: str, sizes: Sizes) -> tuple[list[Point], int, str | None]:
    points, unread, action = [], 0, call_action(text)
    for item in found(text, 2, POINT_KEYS):
        action = action or item.action
        name = _AUTO.get(item.key) if point_format == "auto" else point_format
        if name is None:
            unread += 1
            continue
        order, scale = _CONVENTIONS[name]
        point = to_point(item.numbers, order, scale, sizes.for_frame(Frame("xyxy", scale)))
        if point not in points:  # the same point twice is one answer
            points.append(point)
    return points, unread, action


TARGET_KEYS = tuple(dict.fromkeys(("target", *DEFAULT_REFERENCE_KEYS)))


@reward(score_range=(0.0, 1.0), reference_keys=TARGET_KEYS, metrics=METRICS)
def point_in_box(
    response: str,
    reference: Any,
    references: Mapping[str, Any],
    images: Sequence[Media] = (),
    point_format: PointFormat = "auto",
    gold_format: GoldFormat = "xyxy_pixels",
    radius: float = 0.0,
    match_action: bool = True,
    min_pixels: int = QWEN_MIN_PIXELS,
    max_pixels: int = QWEN_MAX_PIXELS,
) -> Score:
    """1.0 when the answer's one point lies in the target box (or within `radius` of the target point)
    and its action, where it states one, is the target's; else 0.0 with the reason.

    Answer (`point_format`): "auto" (default) reads Qwen3-VL's `point_2d` `[x, y]` on 0-1000 and
    `<point>x y</point>` on 0-1000; "gemini" (`[y, x]` on 0-1000), "qwen3", "qwen2.5" (pixels of the
    resized input), "xy_pixels" (GUI-R1's `point`, UI-R1's `coordinate`, a bare `(x, y)`), "xy_1000",
    "yx_1000" read every point in that convention. The action: the object's `action` / `action_type`, or
    the call's name (`click(point=...)`). Several different points score 0.

    Target: references `target` (else the usual gold keys): `{"bbox": [x1, y1, x2, y2], "action": "click"}`
    (GUI-R1's `gt_bbox` too), or `{"point": [x, y], "radius": 14}`, in `gold_format` (as grounding_iou's;
    references `box_format` per line); pixels need the image size (references `image_size` or the image).

    Parameters:
        point_format: how the answer writes its point (above).
        gold_format: how the target is written ("xyxy_pixels" default: points then are [x, y] pixels).
        radius: for a target point, how near counts, in the target's units (0: the target's own `radius`).
        match_action: compare the answer's action with the target's `action` when both have one (True).
        min_pixels: Qwen2.5-VL's processor minimum area, for "qwen2.5" (3136).
        max_pixels: Qwen2.5-VL's processor maximum area, for "qwen2.5" (12845056).
    """
    require_choice("point_format", point_format, get_args(PointFormat))
    if isinstance(radius, bool) or not isinstance(radius, (int, float)) or radius < 0:
        raise OptionError(f"radius must be a number >= 0, got {radius!r}")
    sizes = Sizes(references, images, min_pixels, max_pixels)
    _, frame = gold_frame(references, gold_format)
    box, target, obj = gold_target(reference, frame, sizes, BOX_KEYS, POINT_KEYS)
    try:
        points, unread, action = _points(answer_text(response), point_format, sizes)
    except Flood as flood:
        return Score(0.0, str(flood), {"hit": 0.0})
    metrics: dict[str, float] = {"points": float(len(points))}
    wanted = _action(obj.get("action") or obj.get("action_type")) if isinstance(obj, Mapping) else None
    said = _action(action)
    if match_action and wanted and said:
        metrics["action_match"] = float(said == wanted)
        if said != wanted:
            return Score(0.0, f"action {said!r}, the target's is {wanted!r}", {**metrics, "hit": 0.0})
    if not points:
        why = (f"{unread} point(s) in a convention the reward was not told: set point_format" if unread
               else "no point in the answer")
        return Score(0.0, why, {**metrics, "hit": 0.0})
    if len(points) > 1:
        return Score(0.0, f"{len(points)} different points: answer one", {**metrics, "hit": 0.0})
    point = points[0]
    if point.outside:
        return Score(0.0, "the point is outside the image", {**metrics, "hit": 0.0})
    if box is not None:
        hit = inside(point, box)
        where = f"({point.x * 1000:.0f}, {point.y * 1000:.0f}) on 0-1000, target box {box.as_1000()}"
        metrics["hit"] = float(hit)
        return Score(float(hit), f"{'inside' if hit else 'outside'} the target: {where}", metrics)
    assert target is not None  # gold_target returns a box or a point
    return _near(point, target, obj, radius, sizes.for_frame(frame) or (1000.0, 1000.0), metrics)


def _near(point: Point, target: Point, obj: Any, radius: float, units: tuple[float, float],
          metrics: dict[str, float]) -> Score:
    allowed = radius or (obj.get("radius") if isinstance(obj, Mapping) else None)
    if isinstance(allowed, bool) or not isinstance(allowed, (int, float)) or allowed <= 0:
        raise InvalidReferenceError("a target point needs a radius: the target's \"radius\" or the radius option")
    gap = distance(point, target, units)
    hit = gap <= allowed
    metrics.update({"hit": float(hit), "distance": gap})
    return Score(float(hit), f"{gap:.1f} from the target point (radius {allowed:g}, in the target's units)", metrics)
