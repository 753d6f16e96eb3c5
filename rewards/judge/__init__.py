"""LLM-judge rewards: pointwise (`judge_reward`), rubric (`rubric_reward`), per-row checklists
(`checklist_reward`), pairwise (`pairwise_reward`) and a reference-guided `equivalence_judge` to put
behind a rule-based reward.

They need a model and a key, so none is registered by default: each is a factory you call in
your own rewards module, e.g. `quality = judge_reward("quality", prompt=..., model=...)`.
"""

import warnings
from typing import Any

from rewardkit.clients import AsyncJudge, JudgeLimits, cloud_run_identity_token

from ._defences import DATA_NOTICE, REASONING_TAGS, fence, trivial, without_reasoning
from ._verdicts import LabelScore, MatchScore, NumberScore
from .checklist import ChecklistError, checklist_reward
from .pairwise import pairwise_reward
from .pointwise import DESCRIPTION_ATTRIBUTE, JudgeDescription, equivalence_judge, judge_reward
from .rubric import Criterion, rubric_reward

__all__ = [
    "judge_reward", "rubric_reward", "Criterion", "checklist_reward", "ChecklistError", "pairwise_reward",
    "equivalence_judge", "NumberScore", "MatchScore", "LabelScore", "AsyncJudge", "JudgeLimits",
    "cloud_run_identity_token", "JudgeDescription", "DESCRIPTION_ATTRIBUTE",
    "DATA_NOTICE", "REASONING_TAGS", "fence", "trivial", "without_reasoning",
]


def __getattr__(name: str) -> Any:
    """The judge errors' old path, for one more release: they live in rewardkit.clients, beside the client."""
    if name not in ("JudgeError", "JudgeUnparseable"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warnings.warn(f"{__name__}.{name} moved to rewardkit.clients.{name}; import it from there (the old path goes in "
                  "the next release)", DeprecationWarning, stacklevel=2)
    import rewardkit.clients

    return getattr(rewardkit.clients, name)
