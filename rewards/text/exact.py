"""String rewards: exact match against the reference."""

from __future__ import annotations

from typing import Any

from rewardkit import Score, reward

from ..common import shorten


@reward
def exact_match(response: str, reference: Any, ignore_case: bool = False) -> Score:
    """1.0 when the response equals the reference, else 0.0.

    Leading and trailing whitespace is ignored on both sides; case counts
    unless `ignore_case=True`. Gold: Vertex `references.answer`, DashScope
    `ground_truth` or `rollout_extra.solution`.

    Parameters:
        ignore_case: compare case-insensitively (default False).
    """
    gold = str(reference).strip()
    answer = response.strip()
    if ignore_case:
        gold, answer = gold.casefold(), answer.casefold()
    if answer == gold:
        return Score(1.0, "exact match")
    return Score(0.0, f"{shorten(response.strip(), 80)!r} != {shorten(str(reference).strip(), 80)!r}")

