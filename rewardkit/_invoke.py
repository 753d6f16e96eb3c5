"""Running one registered reward on samples: parse, call, check the result.

This is the code a worker process runs; it knows nothing of HTTP, platforms
or composites. Failures come back as data (an Outcome with a Failure), never
as exceptions, so one bad sample cannot take down a batch.
"""

from __future__ import annotations

import asyncio
import traceback
from dataclasses import dataclass
from typing import Any, Sequence

from ._errors import InvalidScoreError, ParseError
from ._registry import RewardSpec
from ._sample import Sample
from ._score import Score, to_score

# Error codes reported to platforms (DashScope `error_code`, Vertex error body).
REWARD_ERROR = "REWARD_ERROR"
INVALID_SCORE = "INVALID_SCORE"
TIMEOUT = "TIMEOUT"
WORKER_CRASHED = "WORKER_CRASHED"
OUT_OF_MEMORY = "OUT_OF_MEMORY"
COMPONENT_FAILED = "COMPONENT_FAILED"

_MAX_TEXT = 500


@dataclass(frozen=True)
class Failure:
    """Why a reward produced no score."""

    code: str
    message: str


@dataclass(frozen=True)
class ComponentOutcome:
    name: str
    weight: float
    outcome: "Outcome"


@dataclass(frozen=True)
class Outcome:
    """The result of one reward on one sample.

    `score` is None only when the reward failed and declared no fallback;
    with a fallback both `score` and `failure` are set.
    """

    reward: str
    score: Score | None = None
    failure: Failure | None = None
    parsed: str | None = None
    components: tuple[ComponentOutcome, ...] = ()

    @property
    def ok(self) -> bool:
        return self.failure is None

    @property
    def value(self) -> float | None:
        return None if self.score is None else self.score.value


def describe(exc: BaseException) -> str:
    """`Type: message (at file:line in function)`, short enough for a response body."""
    text = f"{type(exc).__name__}: {exc}"
    frames = traceback.extract_tb(exc.__traceback__)
    if frames:
        last = frames[-1]
        text += f" (at {last.filename}:{last.lineno} in {last.name})"
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 3] + "..."


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


def _inputs(spec: RewardSpec, sample: Sample) -> dict[str, Any]:
    available = {
        "response": lambda: sample.response,
        "thinking": lambda: sample.thinking,
        "prompt": lambda: sample.prompt_text,
        "messages": lambda: sample.prompt,
        "system": lambda: sample.system,
        "references": lambda: sample.references,
        "ground_truth": lambda: sample.ground_truth,
        "reference": lambda: sample.reference(spec.reference_keys),
        "metadata": lambda: sample.metadata,
        "trajectory": lambda: sample.trajectory,
        "sample": lambda: sample,
        "raw": lambda: sample.raw,
    }
    return {name: available[name]() for name in spec.inputs if name in available}


def _group_inputs(spec: RewardSpec, samples: Sequence[Sample]) -> dict[str, Any]:
    # The samples of a group share one prompt; its context is read from the first.
    first = samples[0] if samples else Sample(response="")
    kwargs = _inputs(spec, first)
    lists = {
        "responses": lambda: [s.response for s in samples],
        "thinkings": lambda: [s.thinking for s in samples],
        "samples": lambda: list(samples),
    }
    kwargs.update({name: make() for name, make in lists.items() if name in spec.inputs})
    return kwargs


@dataclass(frozen=True)
class _Call:
    """A prepared call, or the outcome that makes calling unnecessary."""

    kwargs: dict[str, Any] | None = None
    parsed: str | None = None
    done: Outcome | None = None


def _prepare(spec: RewardSpec, sample: Sample) -> _Call:
    kwargs = {**spec.options, **_inputs(spec, sample)}
    if spec.parser is None:
        return _Call(kwargs)
    try:
        parsed = spec.parser(sample.response)
    except ParseError as exc:
        score = Score(spec.on_parse_error, f"parse failed ({spec.parser.name}): {exc}", {"parsed_ok": 0.0})
        return _Call(done=Outcome(spec.name, score))
    except Exception as exc:  # a parser bug is the reward author's, reported like a reward error
        return _Call(done=Outcome(spec.name, failure=Failure(REWARD_ERROR, f"parser {spec.parser.name}: {describe(exc)}")))
    kwargs["parsed"] = parsed
    return _Call(kwargs, parsed=_shown(parsed))


def _finish(spec: RewardSpec, call: _Call, result: Any) -> Outcome:
    try:
        score = to_score(result)
    except InvalidScoreError as exc:
        return Outcome(spec.name, failure=Failure(INVALID_SCORE, f"reward {spec.name!r}: {exc}"), parsed=call.parsed)
    if spec.parser is not None:
        score = Score(score.value, score.reason, {"parsed_ok": 1.0, **score.metrics})
    return Outcome(spec.name, score, parsed=call.parsed)


def _error(spec: RewardSpec, exc: BaseException, parsed: str | None = None) -> Outcome:
    code = OUT_OF_MEMORY if isinstance(exc, MemoryError) else REWARD_ERROR
    return Outcome(spec.name, failure=Failure(code, describe(exc)), parsed=parsed)


def _finish_group(spec: RewardSpec, result: Any, size: int) -> list[Outcome]:
    if not isinstance(result, (list, tuple)) or len(result) != size:
        got = f"{len(result)} scores" if isinstance(result, (list, tuple)) else type(result).__name__
        failure = Failure(INVALID_SCORE, f"grouped reward {spec.name!r} returned {got} for {size} responses")
        return [Outcome(spec.name, failure=failure) for _ in range(size)]
    return [_finish(spec, _Call(), item) for item in result]


def _run_one(spec: RewardSpec, sample: Sample) -> Outcome:
    call = _prepare(spec, sample)
    if call.done is not None:
        return call.done
    try:
        result = spec.fn(**call.kwargs)
    except Exception as exc:
        return _error(spec, exc, call.parsed)
    return _finish(spec, call, result)


async def _arun_one(spec: RewardSpec, sample: Sample) -> Outcome:
    call = _prepare(spec, sample)
    if call.done is not None:
        return call.done
    try:
        result = await spec.fn(**call.kwargs)
    except Exception as exc:
        return _error(spec, exc, call.parsed)
    return _finish(spec, call, result)


def run_leaf(spec: RewardSpec, samples: Sequence[Sample]) -> list[Outcome]:
    """Run a synchronous reward on samples in the calling thread."""
    if not spec.grouped:
        return [_run_one(spec, sample) for sample in samples]
    try:
        result = spec.fn(**{**spec.options, **_group_inputs(spec, samples)})
    except Exception as exc:
        return [_error(spec, exc)] * len(samples)
    return _finish_group(spec, result, len(samples))


async def arun_leaf(spec: RewardSpec, samples: Sequence[Sample]) -> list[Outcome]:
    """Run an async reward on samples on the event loop, the samples of a group concurrently."""
    if not spec.grouped:
        if len(samples) == 1:
            return [await _arun_one(spec, samples[0])]
        return list(await asyncio.gather(*(_arun_one(spec, sample) for sample in samples)))
    try:
        result = await spec.fn(**{**spec.options, **_group_inputs(spec, samples)})
    except Exception as exc:
        return [_error(spec, exc)] * len(samples)
    return _finish_group(spec, result, len(samples))
