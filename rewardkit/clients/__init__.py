"""Clients for services a reward calls: LLM judges (`AsyncJudge`), over the model APIs in `providers`.

Imported only by rewards that use them, so `import rewardkit` stays light. `JudgeError` (a judge gave no
verdict: JUDGE_ERROR) and `JudgeUnparseable` (its reply held none: JUDGE_UNPARSEABLE) live here, with the
client that raises them; a reward that calls a judge some other way raises them too.
"""

from .._errors import JudgeError, JudgeUnparseable
from .._public import show_as
from .judge import AsyncJudge, Completion, JudgeLimits, TokenProvider, cloud_run_identity_token
from .providers import Provider, ProviderError

__all__ = ["AsyncJudge", "Completion", "JudgeLimits", "TokenProvider", "cloud_run_identity_token",
           "JudgeError", "JudgeUnparseable", "Provider", "ProviderError"]

show_as(__name__, JudgeError, JudgeUnparseable)
