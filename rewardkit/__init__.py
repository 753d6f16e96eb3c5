"""rewardkit: reward functions for LLM reinforcement fine-tuning, served to Vertex AI and DashScope.

Write a reward as a plain decorated function; `rewardkit serve` exposes it
over both platforms' wire contracts. Everything a user needs is named here;
the underscored modules are private.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import parsers
from ._errors import (
    InvalidReferenceError,
    InvalidScoreError,
    JudgeError,
    JudgeUnparseable,
    LoadError,
    MissingReferenceError,
    ParseError,
    RegistrationError,
    RewardkitError,
    UnknownRewardError,
)
from ._loader import DEFAULT_TARGET
from ._outcome import Failure, Outcome
from ._registry import (
    NATIVE_TWIN,
    CompositeSpec,
    Registry,
    RewardSpec,
    attach,
    collect,
    composite,
    grouped_reward,
    parsed_reward,
    reward,
    spec_of,
    variant,
)
from ._sample import DEFAULT_REFERENCE_KEYS, Media, Message, Metadata, Sample, ToolCall, sample
from ._score import Score

if TYPE_CHECKING:
    from fastapi import FastAPI

    from ._engine.inline import Engine
    from ._settings import Settings

__version__ = "0.1.0"


def create_app(
    target: str | Registry = DEFAULT_TARGET,
    *,
    reward: str | None = None,
    settings: Settings | None = None,
    engine: Engine | None = None,
    access_log: bool = True,
) -> FastAPI:
    """Build the FastAPI app serving `target` (a module path, a .py file, or a Registry).

    The parameters are rewardkit._serving.app.create_app's (see there); imported lazily to keep `import
    rewardkit` light."""
    from ._serving.app import create_app as _create_app

    return _create_app(target, reward=reward, settings=settings, engine=engine, access_log=access_log)


def call(reward: Any, sample: Sample) -> Outcome:
    """Run a single or parse-then-score reward on one sample, here and now, as a worker runs it.

    Its gold answer is checked first (a missing one is a MISSING_REFERENCE
    failure), its parser runs, its result is checked; failures come back in the
    Outcome, never raised. For rewards built on another reward (a judge's rule,
    the answer after an agent's tool calls)."""
    from ._engine.invoke import call_inputs, run_call
    from ._gold import missing_gold
    from ._registry import RewardSpec as _Single

    spec = spec_of(reward)
    if not isinstance(spec, _Single) or spec.grouped:
        raise TypeError(f"rewardkit.call() runs a single or parse-then-score reward, not {spec.name!r} ({spec.kind})")
    missing = missing_gold(spec, sample)
    if missing is not None:
        return Outcome(spec.name, failure=missing)
    return run_call(spec, call_inputs(spec, sample))


__all__ = [
    "reward", "grouped_reward", "parsed_reward", "composite", "variant",
    "Score", "Sample", "Message", "Media", "ToolCall", "Metadata", "sample",
    "Outcome", "Failure", "RewardSpec", "CompositeSpec", "Registry", "collect", "spec_of",
    "parsers", "create_app", "call", "attach", "DEFAULT_REFERENCE_KEYS", "NATIVE_TWIN",
    "RewardkitError", "RegistrationError", "LoadError", "ParseError", "InvalidScoreError", "UnknownRewardError",
    "MissingReferenceError", "InvalidReferenceError", "JudgeError", "JudgeUnparseable",
]
