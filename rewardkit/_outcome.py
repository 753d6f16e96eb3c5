"""What a reward call produced: an Outcome (a score, or a Failure with its error code), per sample.

The engine makes them, the contracts render them; both import them from here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

# The failure codes are declared, with their meaning, in rewardkit._errors; the engine's are re-exported here.
from ._errors import (
    COMPONENT_FAILED,
    DATA_FAULTS,
    INVALID_REFERENCE,
    INVALID_SCORE,
    MISSING_REFERENCE,
    OUT_OF_MEMORY,
    REWARD_ERROR,
    TIMEOUT,
    WORKER_CRASHED,
)
from ._score import Score


@dataclass(frozen=True)
class Failure:
    """Why a reward produced no score."""

    code: str
    message: str


@dataclass(frozen=True)
class ComponentOutcome:
    name: str
    weight: float
    outcome: "Outcome"


@dataclass(frozen=True)
class Outcome:
    """The result of one reward on one sample.

    `score` is None only when the reward failed and declared no fallback;
    with a fallback both `score` and `failure` are set.
    """

    reward: str
    score: Score | None = None
    failure: Failure | None = None
    parsed: str | None = None
    components: tuple[ComponentOutcome, ...] = ()

    @property
    def ok(self) -> bool:
        return self.failure is None

    @property
    def failed_with(self) -> Failure:
        """The failure of an outcome that has one (every outcome without a score has one)."""
        if self.failure is None:
            raise ValueError(f"reward {self.reward!r}: this outcome has no failure")
        return self.failure

    @property
    def value(self) -> float | None:
        return None if self.score is None else self.score.value


# The keys a trainer's per-item dict carries besides `score` and the metrics: whether the reward failed on the
# item (1.0 / 0.0), and its error code ("" when it did not fail). Rewards' metrics are `<reward>.<metric>`:
# no reward's key starts with "rewardkit.".
FAILED_KEY = "rewardkit.failed"
ERROR_KEY = "rewardkit.error"
NO_ERROR = ""


def flat_metrics(outcome: Outcome, errors: bool = False) -> dict[str, float]:
    """An outcome's finite metrics as flat scalars: `<reward>.<metric>`, and `<component>.score` per scored
    component (the shape trainers log); with `errors`, `<reward>.error.<CODE>: 1.0` for each failure too."""
    metrics: dict[str, float] = {}
    if outcome.score is not None:
        metrics.update({f"{outcome.reward}.{name}": value for name, value in outcome.score.metrics.items()})
    if errors and outcome.failure is not None:
        metrics[f"{outcome.reward}.error.{outcome.failure.code}"] = 1.0
    for component in outcome.components:
        if component.outcome.score is not None:
            metrics[f"{component.name}.score"] = component.outcome.score.value
        metrics.update(flat_metrics(component.outcome, errors))
    return {name: value for name, value in metrics.items() if math.isfinite(value)}


def schema_metrics(outcome: Outcome, keys: Sequence[str]) -> tuple[dict[str, float], list[str]]:
    """Exactly `keys`, in their order: the outcome's flat metrics, NaN for each it lacks (a failed item, an item
    of another reward, a metric not reported this time); and the names of its metrics outside `keys`."""
    found = flat_metrics(outcome)
    known = set(keys)
    return {key: found.get(key, math.nan) for key in keys}, [name for name in found if name not in known]


__all__ = [
    "Failure", "ComponentOutcome", "Outcome", "flat_metrics", "schema_metrics", "FAILED_KEY", "ERROR_KEY", "NO_ERROR",
    "REWARD_ERROR", "INVALID_SCORE", "TIMEOUT", "WORKER_CRASHED", "OUT_OF_MEMORY", "COMPONENT_FAILED",
    "MISSING_REFERENCE", "INVALID_REFERENCE", "DATA_FAULTS",
]
