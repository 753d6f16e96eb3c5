"""Rewards for the audit tests: a deliberately naive one, and a sound one beside it."""

from __future__ import annotations

from typing import Any

from rewardkit import Score, reward


@reward
def naive_contains(response: str, reference: Any) -> Score:
    """1.0 when the gold appears anywhere in the response: the reward a policy games first."""
    gold = str(reference).split("####")[-1].strip()
    return Score(1.0 if gold in response else 0.0, f"{gold!r} {'in' if gold in response else 'not in'} the response")
