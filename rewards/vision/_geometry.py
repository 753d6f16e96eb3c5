"""Boxes and points on one frame, the image's own: coordinates in [0, 1], x to the right, y down.

Every convention a model or a dataset uses (Gemini's `[ymin, xmin, ymax, xmax]` on 0-1000, Qwen3-VL's
`[x1, y1, x2, y2]` on 0-1000, pixels of the original or of the model's resized input, COCO's
`[x, y, w, h]`) is converted to this frame once; IoU, containment and matching know nothing else.
IoU is a ratio of areas, so it is the same on this frame as on the pixel grid (scaling x and y scales
every area alike).

What counts:
- Corners given in reverse order are swapped, as Google's spatial-understanding cookbook does when it
  draws Gemini's boxes (google-gemini/cookbook, quickstarts/Spatial_understanding.ipynb,
  `plot_bounding_boxes`: `if abs_x1 > abs_x2: abs_x1, abs_x2 = abs_x2, abs_x1`, and the same for y).
- A coordinate beyond the image by more than `EDGE_TOLERANCE` of its side puts the box OUT of the image:
  it matches nothing (a box in pixels read as 0-1000, or a box drawn past the edge to cover more, is
  wrong, not clipped into credit). Within the tolerance it is clipped (rounding at the edge).
- A box of zero width or height is DEGENERATE: it matches nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Sequence

# A coordinate this far past an edge (share of the side) is rounding, clipped; further, the box is outside.
EDGE_TOLERANCE = 0.01

Order = Literal["xyxy", "yxyx", "xywh"]
Scale = Literal["1000", "unit", "pixels", "input_pixels"]


@dataclass(frozen=True)
class Frame:
    """How four numbers are written: the order of the coordinates and what they are measured in.

    `pixels` are pixels of the original image; `input_pixels` of the image the model saw after its
    processor resized it (Qwen2.5-VL)."""

    order: Order
    scale: Scale

    @property
    def needs_size(self) -> bool:
        return self.scale in ("pixels", "input_pixels")


@dataclass(frozen=True)
class Box:
    """A box on the image's frame, corners ordered; `problem` says why it can match nothing."""

    x1: float
    y1: float
    x2: float
    y2: float
    label: str | None = None
    problem: str | None = None  # "out_of_image" or "degenerate"

    @property
    def area(self) -> float:
        return max(0.0, self.x2 - self.x1) * max(0.0, self.y2 - self.y1)

    def as_1000(self) -> list[float]:
        """`[x1, y1, x2, y2]` on 0-1000, for reasons a user reads."""
        return [round(v * 1000, 1) for v in (self.x1, self.y1, self.x2, self.y2)]


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    outside: bool = False


def _divisors(scale: Scale, size: tuple[float, float] | None) -> tuple[float, float]:
    if scale == "1000":
        return 1000.0, 1000.0
    if scale == "unit":
        return 1.0, 1.0
    if size is None:  # the callers read the size first whenever the frame needs one
        raise ValueError(f"a box in {scale} needs the image size")
    return float(size[0]), float(size[1])


def _placed(value: float) -> tuple[float, bool]:
    """The coordinate clipped to the image, and whether it was beyond the tolerance."""
    outside = value < -EDGE_TOLERANCE or value > 1 + EDGE_TOLERANCE
    return min(1.0, max(0.0, value)), outside


def to_box(numbers: Sequence[float], frame: Frame, size: tuple[float, float] | None = None,
           label: str | None = None) -> Box:
    """Four numbers written in `frame` as a Box on the image's frame (size: (width, height) for pixel frames)."""
    a, b, c, d = (float(n) for n in numbers)
    if frame.order == "yxyx":
        a, b, c, d = b, a, d, c
    elif frame.order == "xywh":
        c, d = a + c, b + d
    width, height = _divisors(frame.scale, size)
    x1, y1, x2, y2 = a / width, b / height, c / width, d / height
    x1, x2 = min(x1, x2), max(x1, x2)
    y1, y2 = min(y1, y2), max(y1, y2)
    placed = [_placed(v) for v in (x1, y1, x2, y2)]
    problem = "out_of_image" if any(outside for _, outside in placed) else None
    x1, y1, x2, y2 = (v for v, _ in placed)
    if problem is None and (x2 <= x1 or y2 <= y1):
        problem = "degenerate"
    return Box(x1, y1, x2, y2, label, problem)


def to_point(numbers: Sequence[float], order: Literal["xy", "yx"], scale: Scale,
             size: tuple[float, float] | None = None) -> Point:
    """Two numbers in a convention as a Point on the image's frame; `outside` past the tolerance."""
    a, b = (float(n) for n in numbers)
    x, y = (b, a) if order == "yx" else (a, b)
    width, height = _divisors(scale, size)
    (x, x_out), (y, y_out) = _placed(x / width), _placed(y / height)
    return Point(x, y, x_out or y_out)


def iou(a: Box, b: Box) -> float:
    """Intersection over union; 0 for a box that can match nothing."""
    if a.problem or b.problem:
        return 0.0
    width = min(a.x2, b.x2) - max(a.x1, b.x1)
    height = min(a.y2, b.y2) - max(a.y1, b.y1)
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    union = a.area + b.area - inter
    return inter / union if union > 0 else 0.0


def inside(point: Point, box: Box) -> bool:
    return not point.outside and box.x1 <= point.x <= box.x2 and box.y1 <= point.y <= box.y2


def distance(a: Point, b: Point, size: tuple[float, float]) -> float:
    """Euclidean distance in units of `size` (pixels for a pixel size, 0-1000 units for (1000, 1000))."""
    return math.hypot((a.x - b.x) * size[0], (a.y - b.y) * size[1])


def max_weight_matching(weights: Sequence[Sequence[float]]) -> list[tuple[int, int]]:
    """The one-to-one pairs (row, column) of greatest total weight; pairs of weight <= 0 are left out.

    The Hungarian method with potentials (Kuhn-Munkres, in the O(n^2 m) form for n rows <= m columns,
    as in Jonker and Volgenant), written here because the sizes are small (MAX_BOXES) and scipy's
    `linear_sum_assignment` would be a heavy dependency for one call; tests/test_vision_rewards.py checks it
    against every permutation on random matrices.
    """
    rows = len(weights)
    columns = len(weights[0]) if rows else 0
    if rows == 0 or columns == 0:
        return []
    transposed = rows > columns
    matrix = [list(r) for r in zip(*weights, strict=True)] if transposed else [list(r) for r in weights]
    n, m = len(matrix), len(matrix[0])
    top = max(max(r) for r in matrix)
    cost = [[top - w for w in r] for r in matrix]  # minimising cost maximises weight
    u, v = [0.0] * (n + 1), [0.0] * (m + 1)
    owner, way = [0] * (m + 1), [0] * (m + 1)  # owner[j]: the row matched to column j (1-based, 0: none)
    for i in range(1, n + 1):
        owner[0], j0 = i, 0
        least, used = [math.inf] * (m + 1), [False] * (m + 1)
        while True:
            used[j0] = True
            i0, delta, j1 = owner[j0], math.inf, 0
            for j in range(1, m + 1):
                if not used[j]:
                    reduced = cost[i0 - 1][j - 1] - u[i0] - v[j]
                    if reduced < least[j]:
                        least[j], way[j] = reduced, j0
                    if least[j] < delta:
                        delta, j1 = least[j], j
            for j in range(m + 1):
                if used[j]:
                    u[owner[j]] += delta
                    v[j] -= delta
                else:
                    least[j] -= delta
            j0 = j1
            if owner[j0] == 0:
                break
        while j0:
            j1 = way[j0]
            owner[j0] = owner[j1]
            j0 = j1
    pairs = [(owner[j] - 1, j - 1) for j in range(1, m + 1) if owner[j]]
    if transposed:
        pairs = [(c, r) for r, c in pairs]
    return sorted((r, c) for r, c in pairs if weights[r][c] > 0)
