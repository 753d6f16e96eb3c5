"""What a reward call produced: an Outcome (a score, or a Failure with its error code), per sample.

The engine makes them, the contracts render them; both import them from here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from ._errors import InvalidReferenceError, MissingReferenceError
from ._score import Score

# Error codes, as the contracts report them (an `error_code` field, an error body).
REWARD_ERROR = "REWARD_ERROR"
INVALID_SCORE = "INVALID_SCORE"
TIMEOUT = "TIMEOUT"
WORKER_CRASHED = "WORKER_CRASHED"
OUT_OF_MEMORY = "OUT_OF_MEMORY"
COMPONENT_FAILED = "COMPONENT_FAILED"
MISSING_REFERENCE = MissingReferenceError.code
INVALID_REFERENCE = InvalidReferenceError.code
# A media part of the request could not be read (rewardkit/media/fetch.py): not fetched (network, refused by
# the address policy, a timeout), over a size limit, or not what it was declared as / a scheme or format
# rewardkit does not read. The last two are the data's fault.
MEDIA_FETCH_ERROR = "MEDIA_FETCH_ERROR"
MEDIA_TOO_LARGE = "MEDIA_TOO_LARGE"
MEDIA_UNSUPPORTED = "MEDIA_UNSUPPORTED"
# The request's data is at fault, not the reward nor the server: a retry cannot help (Vertex answers 422),
# a fallback never hides it, and a composite fails with it whatever its on_component_error says.
DATA_FAULTS = frozenset({MISSING_REFERENCE, INVALID_REFERENCE, MEDIA_TOO_LARGE, MEDIA_UNSUPPORTED})


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
