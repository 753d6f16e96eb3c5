"""`grounding_iou`: the boxes a response draws against the gold boxes of the references.

The policy, stated before the code (each rule is a test in tests/test_vision_rewards.py):
- Boxes are read as models write them (rewards/vision/_read.py) and converted to the image's frame
  (rewards/vision/_geometry.py): reversed corners are swapped; a box past the image's edge, a box of no
  area and a box covering more than `max_box_area` of the image match nothing, unless (the last) it
  really overlaps a gold box at `threshold` (the gold itself may fill the picture).
- Pairs are one to one: a maximum-weight matching (Hungarian), so a box repeated, or one box among many
  near-copies, is matched once and the rest count as extra boxes. Where gold boxes carry labels and
  `match_labels` is on, a box matches only a gold box of the same label (case and spacing aside); a box
  without a label matches only when the gold boxes all share one label.
- Every box the response states counts in the denominators: more boxes never score more than the right
  ones alone (hedging costs), and a response of more than MAX_BOXES boxes scores 0 before any matching.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Mapping, Sequence, get_args

from rewardkit import Media, Score, reward
from rewardkit.registry import DEFAULT_REFERENCE_KEYS

from ..common.options import OptionError, require_choice
from ._formats import (
    AUTO_KEYS,
    FRAMES,
    QWEN_MAX_PIXELS,
    QWEN_MIN_PIXELS,
    BoxFormat,
    GoldFormat,
    Sizes,
    gold_boxes,
    gold_frame,
)
from ._geometry import Box, iou, max_weight_matching, to_box
from ._read import BOX_KEYS, Flood, answer_text, found

Mode = Literal["iou", "iou_threshold", "f1"]
# An IoU this close below the threshold meets it: converting between conventions rounds (0.5 comes out 0.4999...).
IOU_EPSILON = 1e-9
METRICS = ("iou", "f1", "matched", "predicted", "expected", "precision", "recall", "out_of_image", "degenerate",
           "whole_image", "unread")


def _label(text: str | None) -> str | None:
    return " ".join(text.casefold().split()) if text else None


def _check(mode: str, box_format: str, threshold: float, max_box_area: float) -> None:
    require_choice("mode", mode, get_args(Mode))
    require_choice("box_format", box_format, get_args(BoxFormat))
    for name, value in (("threshold", threshold), ("max_box_area", max_box_area)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
            raise OptionError(f"{name} must be a number in (0, 1], got {value!r}")


def predicted_boxes(text: str, box_format: str, sizes: Sizes) -> tuple[list[Box], int]:
    """The boxes the answer states, on the image's frame, and how many it states in a convention not declared."""
    boxes, unread = [], 0
    for item in found(text, 4, BOX_KEYS):
        name = AUTO_KEYS.get(item.key) if box_format == "auto" else box_format
        if name is None:
            unread += 1
            continue
        frame = FRAMES[name]
        boxes.append(to_box(item.numbers, frame, sizes.for_frame(frame), item.label))
    return boxes, unread


@dataclass(frozen=True)
class Matching:
    pairs: list[tuple[int, int, float]]  # (predicted, gold, IoU)
    whole_image: int

    def at(self, threshold: float) -> int:
        return sum(value >= threshold - IOU_EPSILON for _, _, value in self.pairs)


def match(predicted: Sequence[Box], golds: Sequence[Box], *, threshold: float, max_box_area: float,
          match_labels: bool, count_first: bool) -> Matching:
    """One-to-one pairs of predicted and gold boxes; `count_first` maximises the pairs at `threshold`
    (then their IoU), else the sum of IoU."""
    bonus = float(len(golds) + 1)  # above any sum of IoU: one more pair at the threshold always wins
    # Labels are compared where both boxes have one; an unlabelled box matches a labelled gold only when the gold
    # boxes share one label (else leaving labels out would pair any box with any class).
    kinds = {_label(g.label) for g in golds if g.label}
    weights, whole = [], 0
    for box in predicted:
        too_big = box.problem is None and box.area >= max_box_area
        whole += too_big
        row = []
        for gold in golds:
            value = iou(box, gold)
            labelled = (not match_labels or gold.label is None or _label(box.label) == _label(gold.label)
                        or (box.label is None and len(kinds) == 1))
            meets = value >= threshold - IOU_EPSILON
            if not labelled or (too_big and not meets):
                value, meets = 0.0, False
            row.append((bonus + value if meets else 0.0) if count_first else value)
        weights.append(row)
    pairs = max_weight_matching(weights)
    plain = [(p, g, w - bonus if count_first else w) for p, g in pairs for w in (weights[p][g],)]
    return Matching(plain, whole)


@reward(score_range=(0.0, 1.0), reference_keys=("boxes", *DEFAULT_REFERENCE_KEYS), metrics=METRICS)
def grounding_iou(
    response: str,
    reference: Any,
    references: Mapping[str, Any],
    images: Sequence[Media] = (),
    mode: Mode = "iou",
    threshold: float = 0.5,
    box_format: BoxFormat = "auto",
    gold_format: GoldFormat = "xyxy_pixels",
    match_labels: bool = True,
    max_box_area: float = 0.9,
    min_pixels: int = QWEN_MIN_PIXELS,
    max_pixels: int = QWEN_MAX_PIXELS,
) -> Score:
    """The response's boxes against the gold boxes: IoU, IoU at a threshold, or F1 over a one-to-one matching.

    Response boxes (`box_format`): "auto" (default) reads Gemini's `box_2d`
    `[ymin, xmin, ymax, xmax]` on 0-1000 and Qwen3-VL's `bbox_2d` `[x1, y1, x2, y2]` on 0-1000 by their key;
    "gemini", "qwen3", "qwen2.5" (`[x1, y1, x2, y2]` in pixels of the resized image Qwen2.5-VL saw:
    references `input_size`, else computed from the image size with `min_pixels` / `max_pixels`),
    "xyxy_1000", "yxyx_1000", "xyxy_pixels" (of the original image), "xyxy_unit" (0-1) read every box,
    bare lists included, in that convention. JSON, Python-literal lists, ```json fences, `<answer>` tags.

    Gold: references `boxes` (else the usual gold keys, DashScope `ground_truth` first): a box, a list of
    boxes, objects `{"bbox": [...], "label": "cat"}` (or `box`, `bbox_2d`, `box_2d`), or `{"boxes": [...]}`,
    in `gold_format` ("xyxy_pixels" default, "xywh_pixels", "xyxy_1000", "yxyx_1000", "xyxy_unit"; a line's
    references `box_format` overrides it). Pixels need the image size: references `image_size`
    `[width, height]`, else read from the request's first image (Pillow: the `vision` extra).

    Score (`mode`), with one-to-one pairs, n gold boxes and m boxes stated: "iou" (default) the summed IoU
    of the best pairs / max(n, m) (one box against one gold: its IoU); "iou_threshold" 1.0 when every
    gold box is paired at IoU >= `threshold` and no box is left over, else 0.0; "f1" 2k / (n + m) with k
    pairs at IoU >= `threshold`. A box past the image's edge, of zero area, or covering more than
    `max_box_area` of the image (0.9; unless it meets a gold box at `threshold`) matches nothing.

    Parameters:
        mode: "iou", "iou_threshold" or "f1".
        threshold: the IoU a pair needs in "iou_threshold" and "f1" (0.5).
        box_format: how the response writes boxes (above).
        gold_format: how the references write them (above).
        match_labels: gold boxes with labels match only boxes of the same label; an unlabelled box only
            when every gold box has the same label (True).
        max_box_area: the share of the image past which a box is "the whole image" (0.9).
        min_pixels: Qwen2.5-VL's processor minimum area, for "qwen2.5" (3136).
        max_pixels: Qwen2.5-VL's processor maximum area, for "qwen2.5" (12845056).
    """
    _check(mode, box_format, threshold, max_box_area)
    sizes = Sizes(references, images, min_pixels, max_pixels)
    _, frame = gold_frame(references, gold_format)
    golds = gold_boxes(reference, frame, sizes, BOX_KEYS)
    try:
        boxes, unread = predicted_boxes(answer_text(response), box_format, sizes)
    except Flood as flood:
        return Score(0.0, str(flood), {"expected": float(len(golds))})
    metrics: dict[str, float] = {"expected": float(len(golds)), "predicted": float(len(boxes)), "unread": float(unread)}
    for problem in ("out_of_image", "degenerate"):
        metrics[problem] = float(sum(b.problem == problem for b in boxes))
    if not boxes:
        why = (f"{unread} box(es) in a convention the reward was not told (a bare list or key): set box_format"
               if unread else "no box in the answer")
        return Score(0.0, why, {**metrics, "iou": 0.0, "f1": 0.0, "matched": 0.0, "whole_image": 0.0})
    matching = match(boxes, golds, threshold=threshold, max_box_area=max_box_area, match_labels=match_labels,
                     count_first=mode != "iou")
    return _scored(mode, threshold, boxes, golds, matching, metrics)


def _scored(mode: str, threshold: float, boxes: Sequence[Box], golds: Sequence[Box], matching: Matching,
            metrics: dict[str, float]) -> Score:
    n, m = len(golds), len(boxes)
    k = matching.at(threshold)
    mean = sum(value for _, _, value in matching.pairs) / max(n, m)
    metrics.update({"iou": mean, "matched": float(k), "f1": 2 * k / (n + m), "precision": k / m, "recall": k / n,
                    "whole_image": float(matching.whole_image)})
    if mode == "iou":
        value = mean
    elif mode == "f1":
        value = metrics["f1"]
    else:
        value = 1.0 if k == n == m else 0.0
    return Score(value, _reason(mode, threshold, boxes, golds, matching, k), metrics)


def _reason(mode: str, threshold: float, boxes: Sequence[Box], golds: Sequence[Box], matching: Matching,
            k: int) -> str:
    problems = [f"{sum(b.problem == p for b in boxes)} {p.replace('_', ' ')}" for p in ("out_of_image", "degenerate")
                if any(b.problem == p for b in boxes)]
    if matching.whole_image:
        problems.append(f"{matching.whole_image} covering the whole image")
    noted = f" ({', '.join(problems)})" if problems else ""
    if len(golds) == len(boxes) == 1:
        value = matching.pairs[0][2] if matching.pairs else 0.0
        return f"IoU {value:.3f}: box {boxes[0].as_1000()} vs gold {golds[0].as_1000()} (x1,y1,x2,y2 on 0-1000){noted}"
    head = f"{k} of {len(golds)} gold box(es) matched at IoU >= {threshold:g}, {len(boxes)} box(es) stated{noted}"
    if mode == "iou":
        return f"{head}; summed IoU of the pairs / {max(len(golds), len(boxes))}"
    return head
