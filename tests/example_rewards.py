"""Rewards of every kind, used by the tests as a user's module would be."""

import asyncio
import math

import rewardkit
from rewardkit import Score


@rewardkit.reward
def contains_reference(response: str, reference: str) -> bool:
    """1 when the reference occurs in the response."""
    return reference in response


@rewardkit.reward(name="length_ok", weight=0.5)
def short_enough(response: str, limit: int = 20) -> float:
    return 1.0 if len(response) <= limit else 0.0


@rewardkit.parsed_reward("tag:answer", on_parse_error=-1.0)
def tagged(parsed: str, reference: str) -> Score:
    return Score(1.0 if parsed == reference else 0.0, reason=f"{parsed} vs {reference}",
                 metrics={"length": len(parsed)})


@rewardkit.grouped_reward
def rank(responses: list[str]) -> list[float]:
    """Shorter responses rank higher: 1.0 for the shortest, 0.0 for the longest."""
    order = sorted(range(len(responses)), key=lambda i: len(responses[i]))
    n = max(len(responses) - 1, 1)
    scores = [0.0] * len(responses)
    for position, index in enumerate(order):
        scores[index] = 1.0 - position / n
    return scores


@rewardkit.reward
def broken(response: str) -> float:
    return 1 / 0


@rewardkit.reward(fallback=0.25)
def broken_with_fallback(response: str) -> float:
    raise RuntimeError("judge unavailable")


@rewardkit.reward
def not_a_number(response: str) -> float:
    return math.nan


@rewardkit.reward
def too_big(response: str) -> float:
    return 3.0


@rewardkit.reward
async def async_judge(response: str, reference: str) -> float:
    await asyncio.sleep(0)
    return 1.0 if response.strip() == reference else 0.0


@rewardkit.reward
def sees_everything(sample: rewardkit.Sample) -> Score:
    s = sample
    return Score(0.0, metrics={
        "prompt_messages": len(s.prompt), "trajectory": len(s.trajectory),
        "has_system": float(s.system is not None), "thinking_chars": len(s.thinking),
        "tool_calls": sum(len(m.tool_calls) for m in s.trajectory),
    })


exact_ci = rewardkit.variant(contains_reference, "contains_reference_ci")

mean_mix = rewardkit.composite("mean_mix", {contains_reference: 3.0, short_enough: 1.0}, rule="weighted_mean")
sum_mix = rewardkit.composite("sum_mix", {contains_reference: 3.0, short_enough: 1.0}, rule="weighted_sum")
