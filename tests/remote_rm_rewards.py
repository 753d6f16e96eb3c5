"""Rewards the OpenRLHF and slime contract tests serve: a built-in one, and ones that fail, hang or group on cue."""

import math
import time

import rewardkit
from rewardkit import Score
from rewards import math_accuracy  # noqa: F401  (served from this module too)


def _act(response: str) -> float | None:
    if "PLEASE RAISE" in response:
        raise ValueError("asked to fail")
    if "PLEASE HANG" in response:
        time.sleep(60)
    return math.nan if "PLEASE NAN" in response else None


@rewardkit.reward(timeout=2, metrics=["chars", "matched"])
def picky(response: str, reference: str) -> Score:
    """1 when the response is the reference; raises, hangs (past its 2 s timeout) or returns NaN when the response
    asks. The metric `matched` only comes with a match."""
    nan = _act(response)
    matched = response.strip() == reference
    metrics = {"chars": float(len(response)), **({"matched": 1.0} if matched else {})}
    return Score(nan if nan is not None else float(matched), metrics=metrics)


@rewardkit.reward(timeout=2, fallback=-1.0)
def picky_with_fallback(response: str, reference: str) -> float:
    """As picky, but a failure (NaN too) scores -1."""
    nan = _act(response)
    return nan if nan is not None else float(response.strip() == reference)


@rewardkit.grouped_reward
def shortest_wins(responses: list[str]) -> list[float]:
    shortest = min(len(r) for r in responses)
    return [1.0 if len(r) == shortest else 0.0 for r in responses]
