"""Judge rewards served by four `rewardkit serve` instances sharing one Redis (tests/test_judge_shared.py).

The judge, its model and key, and the Redis come from the environment (REWARDKIT_JUDGE_BASE_URL,
REWARDKIT_JUDGE_MODEL, OPENAI_API_KEY, REWARDKIT_REDIS_URL), as in a deployment.
"""

from rewards.judge import JudgeLimits, NumberScore, judge_reward

PROMPT = "Question:\n{{prompt}}\n\nAnswer:\n{{response}}\n\nRate the answer from 1 to 5. End with 'Score: N'."

# 30 requests a minute for the whole service: a burst of 30, then one every 2 s. A 4 s timeout leaves 3.2 s of
# retries and waits, so what the limit cannot admit in time fails as JUDGE_ERROR.
paced = judge_reward("paced", prompt=PROMPT, parse=r"Score:\s*(\d)", score=NumberScore(1, 5),
                     limits=JudgeLimits(concurrency=32, requests_per_minute=30), timeout=4)

shared = judge_reward("shared", prompt=PROMPT, parse=r"Score:\s*(\d)", score=NumberScore(1, 5),
                      limits=JudgeLimits(concurrency=8), timeout=30)
