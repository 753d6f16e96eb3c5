"""What a reward call produced: an Outcome (a score, or a Failure with its error code), per sample.

The engine makes them, the contracts render them; both import them from here.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._errors import MissingReferenceError
from ._score import Score

# Error codes, as the contracts report them (an `error_code` field, an error body).
REWARD_ERROR = "REWARD_ERROR"
INVALID_SCORE = "INVALID_SCORE"
TIMEOUT = "TIMEOUT"
WORKER_CRASHED = "WORKER_CRASHED"
OUT_OF_MEMORY = "OUT_OF_MEMORY"
COMPONENT_FAILED = "COMPONENT_FAILED"
MISSING_REFERENCE = MissingReferenceError.code


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
