"""Reading the boxes and points a response states, in the shapes models emit; never eval().

Where: reasoning (`<think>` blocks, thought parts) never counts; when the response has `<answer>`
tags (R1-style prompts: VLM-R1, UI-R1, GUI-R1), only the last answer counts. In it, every JSON value
(a ```json fence is plain text here), every Python-literal list or dict (GUI-R1 and UI-R1 prompt for
`[{'action': 'click', 'point': [x, y]}]`: read with `ast.literal_eval`, which builds literals and runs
nothing), Qwen2-VL's `<|box_start|>(x1,y1),(x2,y2)<|box_end|>` and UI-TARS's `<point>x y</point>`.

What: a box is four finite numbers under a box key (`box_2d`, `bbox_2d`, `bbox`, `box`, ...) or a bare
list of four; a point two numbers under a point key or a bare pair. Objects nest to any depth
(`{"objects": [{"bbox_2d": [...], "label": "cat"}]}`); a label is the object's `label` (or `name`,
`category`, `class`). The key tells the convention when the reward reads "auto": `box_2d` is Gemini's,
`bbox_2d` / `point_2d` Qwen3-VL's; any other key, or a bare list, needs the convention declared.
"""

from __future__ import annotations

import ast
import json
import math
import re
from dataclasses import dataclass
from typing import Any, Iterator

from rewardkit import RewardkitError

from ..common import answer_block, strip_thinking

# More boxes than this in one response is a flood, not an answer: scored 0 before any matching (bounds the work).
MAX_BOXES = 100
MAX_TEXT = 50_000  # characters of the answer read; past this the response is refused as a flood
_MAX_LITERAL = 20_000  # a Python literal longer than this is not parsed (ast's cost grows with it)
_MAX_SPANS = 2_000  # bracketed spans tried per response
_MAX_DEPTH = 32  # a span nesting deeper is no answer (objects of boxes nest 3 or 4 deep); its inner spans are read

BOX_KEYS = ("box_2d", "bbox_2d", "bbox", "box", "bounding_box", "gt_bbox")
POINT_KEYS = ("point_2d", "point", "coordinate", "coordinates", "click", "position", "gt_point")
LABEL_KEYS = ("label", "name", "category", "class", "object")
ACTION_KEYS = ("action", "action_type")

_QWEN2_BOX = re.compile(r"<\|box_start\|>\s*\(\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)\s*\)\s*,\s*"
                        r"\(\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)\s*\)\s*<\|box_end\|>")
_POINT_TAG = re.compile(r"<point>\s*(-?[\d.]+)[\s,]+(-?[\d.]+)\s*</point>")
# The actions a GUI answer may be written as a call to: click(point='<point>10 20</point>') (UI-TARS, GUI-R1's
# newer format), click(start_box='(10,20)'), tap(x=1, y=2).
CALL_ACTIONS = ("click", "left_click", "tap", "long_press", "double_click", "left_double", "right_click",
                "right_single", "hover", "type", "scroll", "swipe", "drag", "press")
_CALL = re.compile(r"\b(" + "|".join(CALL_ACTIONS) + r")\s*\(", re.I)
_PAIR = re.compile(r"\(\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*\)")
# A point in a call's string argument: click(point='300,240'), click(start_box='(300,240)') (UI-TARS).
_CALL_POINT = re.compile(r"\b(point|start_box|coordinate)\s*=\s*['\"]\(?\s*(-?[\d.]+)\s*[,\s]\s*(-?[\d.]+)\s*\)?['\"]")
_XY_KEYWORDS = re.compile(r"\bx\s*=\s*(-?\d+(?:\.\d+)?)\s*,\s*y\s*=\s*(-?\d+(?:\.\d+)?)")


class Flood(RewardkitError, ValueError):
    """The response states more than the reward reads (too many boxes, too much text): scored 0, with the reason."""


@dataclass(frozen=True)
class Found:
    """Numbers the response states as one box or point: the key they were under ("" when bare), and a label."""

    numbers: tuple[float, ...]
    key: str
    label: str | None = None
    action: str | None = None


def answer_text(response: str) -> str:
    """The part of the response that states the answer: reasoning out, the last <answer> block when there is one."""
    text = answer_block(strip_thinking(response))
    if len(text) > MAX_TEXT:
        raise Flood(f"the answer is {len(text)} characters long; more than {MAX_TEXT} is not read")
    return text


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _numbers(value: Any, count: int) -> tuple[float, ...] | None:
    if isinstance(value, str):  # GUI-R1's call format carries "x,y" or "x y" in a string
        parts = [p for p in re.split(r"[\s,()\[\]]+", value.strip()) if p]
        try:
            value = [float(p) for p in parts]
        except ValueError:
            return None
    if isinstance(value, (list, tuple)) and len(value) == count and all(_finite(v) for v in value):
        return tuple(float(v) for v in value)
    return None


def _label(obj: dict[str, Any]) -> str | None:
    for key in LABEL_KEYS:
        if isinstance(obj.get(key), str) and obj[key].strip():
            return str(obj[key])
    return None


def _action(obj: dict[str, Any]) -> str | None:
    for key in ACTION_KEYS:
        if isinstance(obj.get(key), str) and obj[key].strip():
            return str(obj[key])
    return None


def _walk(value: Any, count: int, keys: tuple[str, ...], depth: int = 0) -> Iterator[Found]:
    """Every group of `count` numbers in a parsed value, under one of `keys` or bare."""
    if depth > 20:
        return
    if isinstance(value, dict):
        label, action = _label(value), _action(value)
        for key, item in value.items():
            numbers = _numbers(item, count) if key in keys else None
            if numbers is not None:
                yield Found(numbers, key, label, action)
            elif isinstance(item, (dict, list)):
                yield from _walk(item, count, keys, depth + 1)
    elif isinstance(value, list):
        numbers = _numbers(value, count)
        if numbers is not None:
            yield Found(numbers, "")
            return
        for item in value:
            yield from _walk(item, count, keys, depth + 1)


_SPECIAL = re.compile(r"[\[\]{}\"'\\]")  # what the bracket scan looks at; the rest it skips in C


def _spans(text: str) -> dict[int, tuple[int, int]]:
    """Each opening bracket's index -> (the index just past the bracket that closes it, how deep the span nests),
    in one pass.

    Quotes count only inside brackets (an apostrophe in the prose around an answer opens nothing), with
    backslash escapes; an opening bracket never closed has no entry.
    """
    spans: dict[int, tuple[int, int]] = {}
    stack: list[list[int]] = []  # [index, the deepest nesting inside so far]
    quote, escaped = "", -1  # escaped: the index of the character a backslash escapes
    for match in _SPECIAL.finditer(text):
        index, char = match.start(), match.group()
        if index == escaped:
            continue
        if quote:
            if char == "\\":
                escaped = index + 1
            elif char == quote:
                quote = ""
        elif char in "\"'":
            quote = char if stack else ""
        elif char in "[{":
            stack.append([index, 0])
        elif char in "]}" and stack:
            opened, inner = stack.pop()
            spans[opened] = (index + 1, inner + 1)
            if stack:
                stack[-1][1] = max(stack[-1][1], inner + 1)
    return spans


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a number")  # json accepts NaN and Infinity by default


def _literal(span: str) -> Any:
    try:
        return json.loads(span, parse_constant=_no_constants)
    except (ValueError, RecursionError):
        pass
    if "'" not in span or len(span) > _MAX_LITERAL:
        return None
    try:
        return ast.literal_eval(span)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


def values(text: str) -> Iterator[Any]:
    """Every outermost JSON (or Python-literal) list or object in `text`, in order; a span that does not
    parse is looked into (an inner span may)."""
    end, tried = 0, 0
    for start, (stop, depth) in sorted(_spans(text).items()):
        if start < end or depth > _MAX_DEPTH:
            continue
        tried += 1
        if tried > _MAX_SPANS:
            return
        value = _literal(text[start:stop])
        if value is not None:
            yield value
            end = stop


def found(text: str, count: int, keys: tuple[str, ...]) -> list[Found]:
    """The boxes (count 4) or points (count 2) `text` states, in order; Flood past MAX_BOXES."""
    out: list[Found] = []
    for value in values(text):
        out.extend(_walk(value, count, keys))
        if len(out) > MAX_BOXES:
            break
    if count == 4:
        out.extend(Found(tuple(float(g) for g in m.groups()), "box_start") for m in _QWEN2_BOX.finditer(text))
    else:
        out.extend(Found(tuple(float(g) for g in m.groups()), "point_tag") for m in _POINT_TAG.finditer(text))
        if not out:
            out.extend(Found((float(m.group(2)), float(m.group(3))), m.group(1)) for m in _CALL_POINT.finditer(text))
        if not out:
            out.extend(Found((float(m.group(1)), float(m.group(2))), "xy") for m in _XY_KEYWORDS.finditer(text))
        if not out:
            out.extend(Found((float(m.group(1)), float(m.group(2))), "") for m in _PAIR.finditer(text))
    if len(out) > MAX_BOXES:
        raise Flood(f"more than {MAX_BOXES} {'boxes' if count == 4 else 'points'} in the answer")
    return out


def call_action(text: str) -> str | None:
    """The action of an answer written as a call (`click(point=...)`, UI-TARS and GUI-R1's newer format)."""
    match = _CALL.search(text)
    return match.group(1) if match else None
