"""From samples to outcomes: fallbacks and composites on top of an engine.

The server, the replay harness and `rewardkit.testing` all score through
`evaluate`, so a replayed score equals a served one.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
from typing import Sequence

from .._gold import missing_gold
from .._outcome import COMPONENT_FAILED, DATA_FAULTS, INVALID_SCORE, ComponentOutcome, Failure, Outcome
from .._registry import AnySpec, CompositeSpec, RewardSpec
from .._sample import Sample
from .._score import Score
from ..media.fetch import Fetcher, default_fetcher
from .inline import Engine

# The inputs that carry media's bytes: a reward asking for one of them has its request's media fetched first.
READS_MEDIA = frozenset({"media", "images"})


def _with_fallback(spec: RewardSpec, outcome: Outcome) -> Outcome:
    # A request without its gold answer is the data's fault; a fallback score would hide it for a whole run.
    if outcome.failure is None or spec.fallback is None or outcome.failure.code in DATA_FAULTS:
        return outcome
    reason = f"fallback score after {outcome.failure.code}: {outcome.failure.message}"
    return dataclasses.replace(outcome, score=Score(float(spec.fallback), reason))


def _combine(spec: CompositeSpec, parts: list[ComponentOutcome]) -> Outcome:
    total = 0.0
    for part in parts:
        if part.outcome.score is not None:
            total += part.weight * part.outcome.score.value
            continue
        failure = part.outcome.failed_with
        if spec.on_component_error == "fail" or failure.code in DATA_FAULTS:
            # A missing gold answer fails the composite whatever on_component_error says: it is not a fault to zero.
            code = failure.code if failure.code in DATA_FAULTS else COMPONENT_FAILED
            composite_failure = Failure(code, f"component {part.name!r} failed: {failure.message}")
            return Outcome(spec.name, failure=composite_failure, components=tuple(parts))
        # on_component_error == "zero": a failed component adds nothing and is reported.
    if spec.rule == "weighted_mean":
        total /= sum(part.weight for part in parts)
    if not math.isfinite(total):  # finite parts can still overflow; a platform must never get inf
        failure = Failure(INVALID_SCORE, f"composite {spec.name!r} combined its components to {total}")
        return Outcome(spec.name, failure=failure, components=tuple(parts))
    return Outcome(spec.name, Score(total), components=tuple(parts))


async def _run(spec: RewardSpec, samples: Sequence[Sample], engine: Engine, fetcher: Fetcher | None) -> list[Outcome]:
    """The engine's outcomes, except that a sample without the gold answer `spec` requires, or whose media
    cannot be fetched for a reward that reads them, is never sent."""
    stopped: list[Failure | None] = [None] * len(samples)
    if READS_MEDIA & set(spec.inputs):  # fetched here, before dispatch: one cache for every worker
        samples, errors = await (fetcher or default_fetcher()).prepare(samples)
        stopped = [None if e is None else Failure(e.code, f"MediaError: {e}") for e in errors]
    if spec.required_gold:
        if spec.grouped:  # a group shares one prompt and reads its gold from the first sample
            gold = missing_gold(spec, samples[0]) if samples else None
            stopped = [f or gold for f in stopped]
        else:
            stopped = [f or missing_gold(spec, sample) for f, sample in zip(stopped, samples, strict=True)]
    if spec.grouped and any(stopped):  # one failed part fails the group: its rewards are relative
        first = next(f for f in stopped if f is not None)
        return [Outcome(spec.name, failure=f or first) for f in stopped]
    ready = [sample for sample, failure in zip(samples, stopped, strict=True) if failure is None]
    scored = iter(await engine.run(spec, ready) if ready else [])
    return [Outcome(spec.name, failure=failure) if failure else next(scored) for failure in stopped]


async def evaluate(spec: AnySpec, samples: Sequence[Sample], engine: Engine,
                   fetcher: Fetcher | None = None) -> list[Outcome]:
    """Score every sample with `spec`; one Outcome per sample, in order. Media are fetched with `fetcher`
    (the process's, from REWARDKIT_MEDIA_*, by default) for the rewards that ask for them."""
    if isinstance(spec, RewardSpec):
        return [_with_fallback(spec, o) for o in await _run(spec, samples, engine, fetcher)]
    results = await asyncio.gather(*(evaluate(c.spec, samples, engine, fetcher) for c in spec.components))
    return [
        _combine(spec,
                 [ComponentOutcome(c.spec.name, c.weight, r[i]) for c, r in zip(spec.components, results, strict=True)])
        for i in range(len(samples))
    ]
