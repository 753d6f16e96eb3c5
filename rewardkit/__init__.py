"""rewardkit: reward functions for LLM reinforcement fine-tuning, served to Vertex AI and DashScope.

Write a reward as a plain decorated function; `rewardkit serve` exposes it
over both platforms' wire contracts. Everything a reward author needs is named
here; the registry plumbing lives in `rewardkit.registry`, the judge client and
its errors in `rewardkit.clients`, and the underscored modules are private.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import parsers
from ._errors import (
    InvalidReferenceError,
    InvalidScoreError,
    LoadError,
    MediaError,
    MissingReferenceError,
    ParseError,
    RegistrationError,
    RewardkitError,
    UnknownRewardError,
)
from ._loader import DEFAULT_TARGET
from ._outcome import Failure, Outcome
from ._public import moved, show_as
from ._registry import CompositeSpec, RewardSpec, composite, grouped_reward, parsed_reward, reward, variant
from ._registry import spec_of as _spec_of
from ._sample import Media, Message, Metadata, Sample, ToolCall, sample
from ._score import Score

if TYPE_CHECKING:
    from fastapi import FastAPI

    from ._engine.inline import Engine
    from ._registry import Registry
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

    spec = _spec_of(reward)
    if not isinstance(spec, RewardSpec) or spec.grouped:
        raise TypeError(f"rewardkit.call() runs a single or parse-then-score reward, not {spec.name!r} ({spec.kind})")
    missing = missing_gold(spec, sample)
    if missing is not None:
        return Outcome(spec.name, failure=missing)
    return run_call(spec, call_inputs(spec, sample))


__all__ = [
    "reward", "grouped_reward", "parsed_reward", "composite", "variant", "RewardSpec", "CompositeSpec",
    "Score", "Sample", "Message", "Media", "MediaError", "ToolCall", "Metadata", "sample", "parsers", "call",
    "Outcome", "Failure",
    "create_app",
    "RewardkitError", "RegistrationError", "LoadError", "ParseError", "InvalidScoreError", "UnknownRewardError",
    "MissingReferenceError", "InvalidReferenceError",
]

show_as(__name__, RewardSpec, CompositeSpec, Score, Sample, Message, Media, ToolCall, Metadata, Outcome, Failure,
        RewardkitError, RegistrationError, LoadError, ParseError, InvalidScoreError, UnknownRewardError,
        MissingReferenceError, InvalidReferenceError, MediaError)

# Plumbing that left the top level: still importable from here, with a DeprecationWarning, for one more release.
_MOVED = {name: "rewardkit.registry" for name in ("Registry", "collect", "spec_of", "attach", "NATIVE_TWIN",
                                                    "DEFAULT_REFERENCE_KEYS")}
_MOVED.update(JudgeError="rewardkit.clients", JudgeUnparseable="rewardkit.clients")
if not TYPE_CHECKING:  # so a type checker reports the old paths instead of typing them as Any
    __getattr__ = moved(__name__, _MOVED)
