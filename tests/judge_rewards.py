"""Judge rewards served by `rewardkit serve` in tests/test_judge_rewards.py, against tests/judge_server.py.

The judge's address, model and key come from the environment the test gives the server
(REWARDKIT_JUDGE_BASE_URL, REWARDKIT_JUDGE_MODEL, OPENAI_API_KEY), as in a deployment.
"""

import os

from rewardkit import composite
from rewards import math_accuracy
from rewards.judge import (
    Criterion,
    JudgeLimits,
    NumberScore,
    equivalence_judge,
    judge_reward,
    pairwise_reward,
    rubric_reward,
)

LIMITS = JudgeLimits(concurrency=int(os.environ.get("JUDGE_CAP", "4")), attempts=3)

quality = judge_reward(
    "quality",
    prompt="Question:\n{{prompt}}\n\nAnswer:\n{{response}}\n\nRate the answer from 1 to 5. End with 'Score: N'.",
    parse=r"Score:\s*(\d+(?:\.\d+)?)", score=NumberScore(1, 5), limits=LIMITS, timeout=20,
)

# The judge's answer has 1.6 s (80 % of the 2 s timeout): a slower judge is JUDGE_ERROR, not TIMEOUT.
hasty = judge_reward("hasty", prompt="Rate:\n{{response}}\nScore: N", parse=r"Score:\s*(\d)", limits=LIMITS, timeout=2)

agrees = judge_reward(
    "agrees",
    prompt="Gold: {{references.answer}}\nAnswer:\n{{response}}\nDoes the answer agree with the gold? yes or no.",
    score="yes", samples=3, params={"temperature": 0.7}, limits=LIMITS, timeout=20,
)

helpful = rubric_reward(
    "helpful",
    criteria=[Criterion("correct", "Is it right?", ("wrong", "partly", "right"), weight=3),
              Criterion("clear", "Is it easy to follow?", ("no", "yes"))],
    limits=LIMITS, timeout=20,
)

helpful_each = rubric_reward("helpful_each", criteria={"correct": "Is it right?", "clear": "Is it clear?"},
                             ask="each", limits=LIMITS, timeout=20)

duel = pairwise_reward("duel", against="round_robin", limits=LIMITS, timeout=30)
duel_budget = pairwise_reward("duel_budget", against="round_robin", budget=8, limits=LIMITS, timeout=30)
versus_gold = pairwise_reward("versus_gold", against="reference", limits=LIMITS, timeout=30)
knockout = pairwise_reward("knockout", against="tournament", limits=LIMITS, timeout=30)

second_opinion = equivalence_judge("second_opinion", rule=math_accuracy, limits=LIMITS, timeout=20)
math_graded = composite("math_graded", {second_opinion: 1.0}, rule="weighted_mean")
