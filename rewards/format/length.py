"""Length and repetition: `length_penalty`, `repetition_penalty` (and `repeated_ratio`, the measure behind it).

Both score in [0, 1] (1 = no penalty), or with `as_penalty=True` in [-1, 0]
instead (score - 1), for a "weighted_sum" composite where a penalty should
only ever subtract.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from annotated_types import Ge

from rewardkit import Score, reward

from ..common.options import OptionError

Unit = Literal["tokens", "chars"]
_DEFAULT_N = {"tokens": 3, "chars": 10}


# ---- length_penalty ------------------------------------------------------------------------------

def _units(text: str, unit: str) -> int:
    return len(text.split()) if unit == "tokens" else len(text)


def _measured(response: str, thinking: str, include_thinking: bool) -> str:
    return f"{thinking}\n{response}" if include_thinking and thinking else response


def _check_length(target: float, limit: float, **_: Any) -> None:
    """length_penalty's rule across options (each one's type and bounds are in its signature)."""
    if limit <= target:
        raise OptionError(f"limit ({limit}) must be greater than target ({target})")


@reward(check_options=_check_length, metrics=["length"])
def length_penalty(
    response: str,
    thinking: str,
    target: Annotated[float, Ge(0)] = 512,
    limit: Annotated[float, Ge(0)] = 2048,
    unit: Unit = "tokens",
    shape: Literal["linear", "cosine"] = "linear",
    include_thinking: bool = False,
    as_penalty: bool = False,
) -> Score:
    """1.0 up to `target` length, falling to 0.0 at `limit` and beyond.

    With L the length and p = (L - target) / (limit - target), between the
    two: "linear" scores 1 - p, "cosine" scores (1 + cos(pi * p)) / 2
    (gentle near both ends, steepest in the middle). With as_penalty the
    score minus 1, in [-1, 0]. Metric `length`.

    Parameters:
        target: the length that still scores 1.0 (default 512).
        limit: the length that scores 0.0; must be > target (default 2048).
        unit: "tokens" (whitespace-separated words) or "chars" (default "tokens";
            use "chars" for text without spaces, e.g. Chinese).
        shape: "linear" or "cosine" (default "linear").
        include_thinking: also count the reasoning (Vertex thought parts,
            DashScope reasoning_content) (default False: the answer only).
        as_penalty: score in [-1, 0] (score - 1) instead of [0, 1] (default False).
    """
    length = _units(_measured(response, thinking, include_thinking), unit)
    if length <= target:
        value = 1.0
    elif length >= limit:
        value = 0.0
    else:
        progress = (length - target) / (limit - target)
        value = 1.0 - progress if shape == "linear" else (1.0 + math.cos(math.pi * progress)) / 2.0
    reason = f"{length} {unit} (target {target:g}, limit {limit:g}, {shape})"
    return Score(value - 1.0 if as_penalty else value, reason, {"length": float(length)})


# ---- repetition_penalty --------------------------------------------------------------------------

def repeated_ratio(text: str, n: int, unit: str = "tokens", ignore_case: bool = False) -> tuple[float, int]:
    """(share of the n-grams that repeat an earlier one, number of n-grams); (0.0, 0) when shorter than n."""
    if ignore_case:
        text = text.casefold()
    if unit == "tokens":
        tokens = text.split()
        total = len(tokens) - n + 1
        if total <= 0:
            return 0.0, 0
        distinct = len({tuple(tokens[i : i + n]) for i in range(total)})
    else:
        chars = "".join(text.split())
        total = len(chars) - n + 1
        if total <= 0:
            return 0.0, 0
        # Hashes, not slices: a megabyte of text would otherwise keep a million strings alive.
        distinct = len({hash(chars[i : i + n]) for i in range(total)})
    return 1.0 - distinct / total, total


@reward(metrics=["repeated_ratio", "ngrams"])
def repetition_penalty(
    response: str,
    thinking: str,
    n: Annotated[int, Ge(1)] | None = None,
    unit: Unit = "tokens",
    ignore_case: bool = False,
    include_thinking: bool = False,
    as_penalty: bool = False,
) -> Score:
    """1 - r, r being the share of the response's n-grams that repeat an earlier one.

    r = 1 - distinct n-grams / all n-grams: 0 for text with no repeated
    n-gram, close to 1 for a loop ("a b a b a b ..."). A text shorter than n
    units scores 1.0. With as_penalty the score is -r, in [-1, 0]. Metrics
    `repeated_ratio` and `ngrams`.

    Parameters:
        n: the n-gram size (default None: 3 for tokens, 10 for chars).
        unit: "tokens" (whitespace-separated words) or "chars" (characters,
            whitespace removed; for text without spaces) (default "tokens").
        ignore_case: compare case-insensitively (default False).
        include_thinking: also count the reasoning (default False: the answer only).
        as_penalty: score -r in [-1, 0] instead of 1 - r (default False).
    """
    size = n if n is not None else _DEFAULT_N[unit]
    ratio, total = repeated_ratio(_measured(response, thinking, include_thinking), size, unit, ignore_case)
    metrics = {"repeated_ratio": ratio, "ngrams": float(total)}
    if total == 0:
        reason = f"shorter than one {size}-gram of {unit}"
    else:
        reason = f"{ratio:.1%} of {total} {size}-grams of {unit} repeat an earlier one"
    value = (-ratio if ratio else 0.0) if as_penalty else 1.0 - ratio
    return Score(value, reason, metrics)
