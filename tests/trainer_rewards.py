"""Rewards for the trainer adapter tests (tests/test_trl_adapter.py, tests/test_verl_adapter.py).

Each one shows in its score what reached it, so a test can tell that a dataset column, the reasoning,
or a prompt's group arrived where the adapter says it does.
"""

import os
import time

import rewardkit
from rewardkit import Score
from rewards import think_format

# think_format as the built-in rewards serve it, and with reasoning delivered apart from the answer refused.
think_inline_only = rewardkit.variant(think_format, "think_inline_only", accept_separate_thinking=False)


@rewardkit.reward(metrics=["length"])
def exact(response: str, reference: str) -> Score:
    """1.0 when the response is the gold answer; the response's length as a metric."""
    return Score(float(response.strip() == str(reference).strip()), None, {"length": float(len(response))})


@rewardkit.reward(metrics=["words", "digits"])
def word_count(response: str) -> Score:
    """The number of words; metric `digits` only when the response has some; `raise` raises."""
    if response == "raise":
        raise ValueError("the completion asked for it")
    metrics = {"words": float(len(response.split()))}
    digits = sum(character.isdigit() for character in response)
    if digits:
        metrics["digits"] = float(digits)
    return Score(metrics["words"], None, metrics)


@rewardkit.reward
def undeclared(response: str) -> Score:
    """Reports a metric it does not declare."""
    return Score(1.0, None, {"secret": 7.0})


@rewardkit.reward
def thinking_length(thinking: str) -> float:
    return float(len(thinking))


@rewardkit.reward
def response_length(response: str) -> float:
    return float(len(response))


@rewardkit.reward
def gold_number(reference: str) -> float:
    """The gold answer itself, read as a number: which column the adapter took it from."""
    return float(reference)


@rewardkit.reward
def column_count(references: dict) -> float:
    return float(len(references))


@rewardkit.reward
def prompt_length(prompt: str, system: str = "") -> float:
    """The length of the last user turn, plus 1000 when there is a system turn."""
    return float(len(prompt)) + (1000.0 if system else 0.0)


@rewardkit.grouped_reward
def group_position(responses: list) -> list:
    """size of the group * 10 + position in it: tells how the adapter grouped the completions."""
    return [len(responses) * 10.0 + i for i in range(len(responses))]


@rewardkit.reward
def misbehave(response: str) -> float:
    """`raise`, `hang`, `crash` or `exit` do so (in the worker); anything else scores 1."""
    if response == "raise":
        raise ValueError("the completion asked for it")
    if response == "hang":
        time.sleep(600)
    if response == "crash":
        os._exit(3)
    return 1.0


@rewardkit.reward
def step_seen(metadata: rewardkit.Metadata) -> float:
    return float(metadata.step if metadata.step is not None else -1)


# A composite: its components' scores and metrics reach the trainers under the same names in-process and remote.
exact_and_short = rewardkit.composite("exact_and_short", {exact: 1.0, response_length: 0.01}, rule="weighted_sum")
