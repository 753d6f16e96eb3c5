"""rewardkit: reward functions for LLM reinforcement fine-tuning, served to Vertex AI and DashScope.

Write a reward as a plain decorated function; `rewardkit serve` exposes it
over both platforms' wire contracts. Everything a user needs is named here;
the underscored modules are private.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import parsers
from ._errors import (
    InvalidScoreError,
    MissingReferenceError,
    LoadError,
    ParseError,
    RegistrationError,
    RewardkitError,
    UnknownRewardError,
)
from ._invoke import Failure, Outcome
from ._registry import (
    CompositeSpec,
    Registry,
    RewardSpec,
    collect,
    composite,
    grouped_reward,
    parsed_reward,
    reward,
    spec_of,
    variant,
)
from ._sample import Message, Metadata, Sample, ToolCall, sample
from ._score import Score

if TYPE_CHECKING:
    from fastapi import FastAPI

__version__ = "0.1.0"


def create_app(*args: Any, **kwargs: Any) -> "FastAPI":
    """Build the FastAPI app (see rewardkit._server.create_app); imported lazily to keep `import rewardkit` light."""
    from ._server import create_app as _create_app

    return _create_app(*args, **kwargs)


__all__ = [
    "reward", "grouped_reward", "parsed_reward", "composite", "variant",
    "Score", "Sample", "Message", "ToolCall", "Metadata", "sample",
    "Outcome", "Failure", "RewardSpec", "CompositeSpec", "Registry", "collect", "spec_of",
    "parsers", "create_app",
    "RewardkitError", "RegistrationError", "LoadError", "ParseError", "InvalidScoreError", "UnknownRewardError",
    "MissingReferenceError",
]
