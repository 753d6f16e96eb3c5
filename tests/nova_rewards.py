"""Rewards served to the Nova RFT contract tests (tests/test_contract_nova.py, tests/test_aws_lambda.py).

`graded` is the default reward: the response `raise`, `hang` or `nan` makes it fail the way a
real reward can; any other response scores 1 when it contains the gold answer.
"""

import math
import time

import rewardkit
from rewardkit import Score


@rewardkit.reward(timeout=2)
def graded(response: str, reference: str) -> Score:
    """1 when the gold answer occurs in the response; its length as a metric."""
    if response == "raise":
        raise ValueError("this response makes the reward raise")
    if response == "hang":
        time.sleep(120)
    if response == "nan":
        return Score(math.nan)
    return Score(1.0 if str(reference).strip() in response else 0.0, metrics={"length": float(len(response))})


@rewardkit.reward
def brevity(response: str) -> float:
    return 1.0 if len(response) <= 40 else 0.0


@rewardkit.reward(fallback=0.0)
def lenient(response: str) -> float:
    if response == "raise":
        raise RuntimeError("judge unavailable")
    return 0.5


graded_and_brief = rewardkit.composite("graded_and_brief", {graded: 3.0, brevity: 1.0}, rule="weighted_mean")


@rewardkit.grouped_reward
def ranked(responses: list[str]) -> list[float]:
    return [1.0 / (1 + i) for i in range(len(responses))]
