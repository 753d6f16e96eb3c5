"""From samples to outcomes: fallbacks and composites on top of an engine.

The server, the replay harness and `rewardkit.testing` all score through
`evaluate`, so a replayed score equals a served one.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
from typing import Sequence

from ._engine import Engine
from ._invoke import COMPONENT_FAILED, INVALID_SCORE, ComponentOutcome, Failure, Outcome
from ._registry import AnySpec, CompositeSpec, RewardSpec
from ._sample import Sample
from ._score import Score


def _with_fallback(spec: RewardSpec, outcome: Outcome) -> Outcome:
    if outcome.failure is None or spec.fallback is None:
        return outcome
    reason = f"fallback score after {outcome.failure.code}: {outcome.failure.message}"
    return dataclasses.replace(outcome, score=Score(float(spec.fallback), reason))


def _combine(spec: CompositeSpec, parts: list[ComponentOutcome]) -> Outcome:
    total = 0.0
    for part in parts:
        if part.outcome.score is not None:
            total += part.weight * part.outcome.score.value
        elif spec.on_component_error == "fail":
            failure = Failure(COMPONENT_FAILED, f"component {part.name!r} failed: {part.outcome.failure.message}")
            return Outcome(spec.name, failure=failure, components=tuple(parts))
        # on_component_error == "zero": a failed component adds nothing and is reported.
    if spec.rule == "weighted_mean":
        total /= sum(part.weight for part in parts)
    if not math.isfinite(total):  # finite parts can still overflow; a platform must never get inf
        failure = Failure(INVALID_SCORE, f"composite {spec.name!r} combined its components to {total}")
        return Outcome(spec.name, failure=failure, components=tuple(parts))
    return Outcome(spec.name, Score(total), components=tuple(parts))


async def evaluate(spec: AnySpec, samples: Sequence[Sample], engine: Engine) -> list[Outcome]:
    """Score every sample with `spec`; one Outcome per sample, in order."""
    if isinstance(spec, RewardSpec):
        return [_with_fallback(spec, o) for o in await engine.run(spec, samples)]
    results = await asyncio.gather(*(evaluate(c.spec, samples, engine) for c in spec.components))
    return [
        _combine(spec, [ComponentOutcome(c.spec.name, c.weight, r[i]) for c, r in zip(spec.components, results)])
        for i in range(len(samples))
    ]
