"""Clients for services a reward calls: LLM judges (`AsyncJudge`), over the model APIs in `providers`.

Imported only by rewards that use them, so `import rewardkit` stays light.
"""

from .._errors import JudgeError, JudgeUnparseable
from .judge import AsyncJudge, Completion, JudgeLimits, TokenProvider, cloud_run_identity_token
from .providers import Provider, ProviderError

__all__ = ["AsyncJudge", "Completion", "JudgeLimits", "TokenProvider", "cloud_run_identity_token",
           "JudgeError", "JudgeUnparseable", "Provider", "ProviderError"]
