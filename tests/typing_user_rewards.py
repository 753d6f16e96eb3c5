"""A user's reward module as their type checker reads it: tests/test_typing.py runs mypy on this file.

Not a test module (pytest does not collect it) and never imported: each `reveal_type` line states, in its
comment, the type mypy must show, and each line marked `# error:` must be the only kind of error mypy reports.
"""

from __future__ import annotations

from typing_extensions import reveal_type

import rewardkit
from rewardkit import Score


@rewardkit.reward
def exact(response: str, reference: str) -> float:
    return float(response.strip() == reference.strip())


@rewardkit.reward(name="exact_ci", fallback=0.0, timeout=5, score_range=(0.0, 1.0))
def exact_ci(response: str, reference: str, *, ignore_case: bool = True) -> Score:
    same = response.casefold() == reference.casefold() if ignore_case else response == reference
    return Score(float(same), "same" if same else "different")


@rewardkit.grouped_reward
def shortest_wins(responses: list[str]) -> list[float]:
    shortest = min(len(r) for r in responses)
    return [float(len(r) == shortest) for r in responses]


@rewardkit.grouped_reward(name="ranked", weight=2.0, score_range=(0, 1))
async def ranked(responses: list[str], prompt: str) -> list[float]:
    return [1.0 / (i + 1) for i, _ in enumerate(responses)]


@rewardkit.parsed_reward("boxed", on_parse_error=0.0, score_range=(0.0, 1.0))
def boxed_match(parsed: str, reference: str) -> float:
    return float(parsed == reference)


exact_lenient = rewardkit.variant(exact_ci, "exact_lenient", ignore_case=True, weight=0.5)
mix = rewardkit.composite("mix", {exact: 1.0, exact_ci: 2.0}, rule="weighted_mean")

reveal_type(exact)  # def (response: str, reference: str) -> float
reveal_type(exact_ci)  # def (response: str, reference: str, *, ignore_case: bool =) -> rewardkit._score.Score
reveal_type(shortest_wins)  # def (responses: list[str]) -> list[float]
reveal_type(ranked)  # def (responses: list[str], prompt: str) -> typing.Coroutine[Any, Any, list[float]]
reveal_type(boxed_match)  # def (parsed: str, reference: str) -> float
reveal_type(exact_lenient)  # rewardkit._registry.RewardSpec
reveal_type(mix)  # rewardkit._registry.CompositeSpec

total: float = exact("42", "42") + boxed_match("7", "7")
checked: Score = exact_ci("Paris", "paris", ignore_case=False)

exact(1, 2, 3)  # error: call-arg, arg-type
rewardkit.reward(score_range="0 to 1")  # error: call-overload
rewardkit.grouped_reward(score_range=(0, 1, 2))  # error: arg-type
rewardkit.parsed_reward("boxed", wieght=2.0)  # error: call-arg
rewardkit.reward(check_options="limit > target")  # error: call-overload
exact_ci("a", "b", ignore_case="yes")  # error: arg-type
wrong: str = shortest_wins(["a", "b"])  # error: assignment
