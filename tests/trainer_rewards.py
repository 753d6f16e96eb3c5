"""Rewards the OpenRLHF and slime contract tests serve: a built-in one, and ones that fail, hang or group on cue."""

import time

import rewardkit
from rewardkit import Score
from rewards import math_accuracy  # noqa: F401  (served from this module too)


def _act(response: str) -> None:
    if "PLEASE RAISE" in response:
        raise ValueError("asked to fail")
    if "PLEASE HANG" in response:
        time.sleep(60)


@rewardkit.reward(timeout=2)
def picky(response: str, reference: str) -> Score:
    """1 when the response is the reference; raises or hangs (past its 2 s timeout) when the response asks."""
    _act(response)
    return Score(1.0 if response.strip() == reference else 0.0, metrics={"chars": float(len(response))})


@rewardkit.reward(timeout=2, fallback=-1.0)
def picky_with_fallback(response: str, reference: str) -> float:
    """As picky, but a failure scores -1."""
    _act(response)
    return 1.0 if response.strip() == reference else 0.0


@rewardkit.grouped_reward
def shortest_wins(responses: list[str]) -> list[float]:
    shortest = min(len(r) for r in responses)
    return [1.0 if len(r) == shortest else 0.0 for r in responses]
