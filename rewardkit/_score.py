"""Scores: what a reward returns, and the checks every returned value goes through."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any, Mapping

from ._errors import InvalidScoreError


@dataclass(frozen=True)
class Score:
    """A reward value with an optional reason and named numeric metrics."""

    value: float
    reason: str | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)


def _finite(value: Any, what: str) -> float:
    # bool is an int subclass: True/False are accepted as 1.0/0.0 on purpose.
    if not isinstance(value, numbers.Real):
        raise InvalidScoreError(f"{what} must be a number, got {type(value).__name__}: {value!r:.80}")
    number = float(value)
    if not math.isfinite(number):
        raise InvalidScoreError(f"{what} is {number}; a reward must be a finite number")
    return number


def to_score(value: Any) -> Score:
    """Check a reward's return value and turn it into a Score.

    Accepts a float, an int, a bool or a Score; NaN, infinity and anything
    else raise InvalidScoreError, so they are never sent to a platform.
    """
    if isinstance(value, Score):
        metrics = {str(k): _finite(v, f"metric {k!r}") for k, v in value.metrics.items()}
        return Score(_finite(value.value, "score"), value.reason, metrics)
    return Score(_finite(value, "score"))


def check_range(score: Score, score_range: tuple[float, float] | None) -> None:
    """InvalidScoreError when the score is outside the range its reward declared (bounds included).

    Refused, not clipped: a score out of the reward's own range is a bug in it (a scale mixed up, a
    penalty added twice), and a clipped value would hide it in every training step that reads it."""
    if score_range is not None and not score_range[0] <= score.value <= score_range[1]:
        raise InvalidScoreError(f"score {score.value!r} is outside the reward's score_range "
                                f"[{score_range[0]:g}, {score_range[1]:g}]")
