"""A judge reward over the toy provider plug-in (tests/toy_judge_provider/), served in tests/test_judge_providers.py.

rewardkit learns of `toy_gemini` only from the plug-in's entry point; the key goes in
`api_key=` as the client's own error message suggests.
"""

import os

from rewards.judge import JudgeLimits, NumberScore, judge_reward

gemini_quality = judge_reward(
    "gemini_quality", provider="toy_gemini", base_url=os.environ["TOY_GEMINI_URL"], model="gemini-toy",
    api_key="g-key", prompt="Rate the answer from 1 to 5:\n{{response}}\nEnd with 'Score: N'.",
    parse=r"Score:\s*(\d)", score=NumberScore(1, 5), limits=JudgeLimits(attempts=2), timeout=20,
)

gemini_weighted = judge_reward(
    "gemini_weighted", provider="toy_gemini", base_url=os.environ["TOY_GEMINI_URL"], model="gemini-toy",
    api_key="g-key", prompt="Rate the answer from 1 to 5:\n{{response}}\nEnd with 'Score: N'.",
    parse=r"Score:\s*(\d)", score=NumberScore(1, 5), probabilities=True, timeout=20,
)
