"""The rewards every trainer of the test bed is run against (served, or in the trainer's process).

Two rewards for two data sources, each declaring its metrics (a trainer needs the same keys on every item),
and ways to fail on purpose: `exact` without a gold answer (MISSING_REFERENCE), `word_count` on a response
holding RAISE (REWARD_ERROR), `short` on every response whose length is a multiple of 4 (a model's random
text fails some of the time).
"""

import rewardkit
from rewardkit import Score
from rewards import math_accuracy, think_format  # noqa: F401  (served too: the built-in rewards)


@rewardkit.reward(metrics=["length"])
def exact(response: str, reference: str) -> Score:
    return Score(float(response.strip() == str(reference).strip()), None, {"length": float(len(response))})


@rewardkit.reward(metrics=["words", "digits"])
def word_count(response: str) -> Score:
    if "RAISE" in response:
        raise ValueError("the response asked for it")
    metrics = {"words": float(len(response.split()))}
    digits = sum(c.isdigit() for c in response)
    if digits:
        metrics["digits"] = float(digits)
    return Score(metrics["words"], None, metrics)


@rewardkit.reward(metrics=["chars"])
def short(response: str) -> Score:
    if len(response) % 4 == 0:
        raise ValueError(f"a length of {len(response)}, a multiple of 4")
    return Score(1.0 / (1.0 + len(response) / 100.0), None, {"chars": float(len(response))})
