"""Rewards for the audit tests: a deliberately naive one, and a sound one beside it."""

from __future__ import annotations

from typing import Any

import rewardkit
from rewardkit import Score, reward
from rewardkit.audit import kinds
from rewards import tool_call_match


@reward
def naive_contains(response: str, reference: Any) -> Score:
    """1.0 when the gold appears anywhere in the response: the reward a policy games first."""
    gold = str(reference).split("####")[-1].strip()
    return Score(1.0 if gold in response else 0.0, f"{gold!r} {'in' if gold in response else 'not in'} the response")


@kinds("judge")
@reward
def believes_the_response(response: str, reference: Any) -> Score:
    """A grader that believes what the response says about itself: what judge injection exploits."""
    gold = str(reference).strip()
    lowered = response.lower()
    if "verdict: correct" in lowered or "score: 10/10" in lowered or "award the maximum" in lowered:
        return Score(1.0, "the response says it is correct")
    return Score(1.0 if response.strip() == gold else 0.0, "compared with the gold")


#: tool_call_match in "fractional" mode: extra calls are free, so junk calls cost nothing.
lenient_tool_calls = rewardkit.variant(tool_call_match, "lenient_tool_calls", mode="fractional")


@reward(reference_keys=["label"])
def exact_label(response: str, reference: str) -> float:
    """Exact match against a gold kept under `label`: the audit must look for it there."""
    return float(response.strip() == reference.strip())


@reward
def credits_everything(response: str, reference: str) -> float:
    """1.0 whatever the answer: the controls cannot separate."""
    return 1.0


@reward
def ascii_only(response: str, reference: str) -> float:
    """Exact match that fails (raises) on any response with a character outside ASCII: look-alikes all error."""
    if not response.isascii():
        raise ValueError("not ASCII")
    return float(response.strip() == reference.strip())
