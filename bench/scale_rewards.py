"""The rewards bench/scale_bench.py serves on every instance: one per family it measures.

`math_accuracy` and `code_tests` are the built-in rewards; `judged` is a judge reward against the fake
judge (tests/judge_server.py), whose address comes from REWARDKIT_JUDGE_BASE_URL as in a deployment. Its
per-instance limits come from SCALE_JUDGE_RPM (requests a minute) and SCALE_JUDGE_CAP (in flight): the
per-process limits rewardkit keeps today, which the benchmark shows multiplied by the instance count.
"""

import os

from rewards import code_tests, math_accuracy
from rewards.judge import JudgeLimits, NumberScore, judge_reward

__all__ = ["code_tests", "judged", "math_accuracy"]

judged = judge_reward(
    "judged",
    prompt="Question:\n{{prompt}}\n\nAnswer:\n{{response}}\n\nRate the answer from 1 to 5. End with 'Score: N'.",
    parse=r"Score:\s*(\d+(?:\.\d+)?)", score=NumberScore(1, 5), timeout=120,
    limits=JudgeLimits(concurrency=int(os.environ.get("SCALE_JUDGE_CAP", "32")),
                       requests_per_minute=float(os.environ.get("SCALE_JUDGE_RPM", "3000")),
                       attempts=3, attempt_timeout=30, deadline=110),
)
