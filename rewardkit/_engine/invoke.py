"""Running one registered reward: read its inputs off the samples, parse, call, check the result.

`call_inputs` / `group_inputs` run where the samples are (the server), so
only what a reward asks for travels to a worker; `run_call` / `run_group`
run where the reward runs. None of it knows HTTP, platforms or composites.
Failures come back as data (an Outcome with a Failure), never as
exceptions, so one bad sample cannot take down a batch.
"""

from __future__ import annotations

import asyncio
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from .._errors import InvalidScoreError, MissingReferenceError, ParseError, RewardkitError
from .._outcome import DATA_FAULTS, INVALID_SCORE, MISSING_REFERENCE, OUT_OF_MEMORY, REWARD_ERROR, Failure, Outcome
from .._registry import PARSED_OK, RewardSpec
from .._sample import Sample
from .._score import Score, check_range, to_score
from .._text import shorten

_MAX_TEXT = 500

# One call of a single or parse-then-score reward: the response text and the inputs the function asks for.
Call = tuple[str, dict[str, Any]]


def describe(exc: BaseException) -> str:
    """`Type: message (at file:line in function)`, short enough for a response body."""
    text = f"{type(exc).__name__}: {exc}"
    frames = traceback.extract_tb(exc.__traceback__)
    if frames:
        last = frames[-1]
        text += f" (at {last.filename}:{last.lineno} in {last.name})"
    return shorten(text, _MAX_TEXT)


def _shown(value: Any) -> str:
    return shorten(value if isinstance(value, str) else repr(value), 200)


# What a reward may ask for, read off a sample; by parameter name (the registry checks the names).
_READ: dict[str, Callable[[RewardSpec, Sample], Any]] = {
    "response": lambda spec, s: s.response,
    "thinking": lambda spec, s: s.thinking,
    "prompt": lambda spec, s: s.prompt_text,
    "messages": lambda spec, s: s.prompt,
    "system": lambda spec, s: s.system,
    "references": lambda spec, s: s.references,
    "ground_truth": lambda spec, s: s.ground_truth,
    "reference": lambda spec, s: s.reference(spec.reference_keys),
    "metadata": lambda spec, s: s.metadata,
    "trajectory": lambda spec, s: s.trajectory,
    "sample": lambda spec, s: s,
    "raw": lambda spec, s: s.raw,
    "media": lambda spec, s: s.media,
    "images": lambda spec, s: s.images,
}
_READ_GROUP: dict[str, Callable[[Sequence[Sample]], Any]] = {
    "responses": lambda samples: [s.response for s in samples],
    "thinkings": lambda samples: [s.thinking for s in samples],
    "samples": lambda samples: list(samples),
}


def call_inputs(spec: RewardSpec, sample: Sample) -> Call:
    """What a single or parse-then-score reward needs of one sample: the response (the parser reads it)
    and the inputs its function asks for. Only this crosses the pipe to a worker."""
    return sample.response, {name: _READ[name](spec, sample) for name in spec.inputs if name in _READ}


def group_inputs(spec: RewardSpec, samples: Sequence[Sample]) -> dict[str, Any]:
    """What a grouped reward asks for; the samples of a group share one prompt, its context is read from the first."""
    first = samples[0] if samples else Sample(response="")
    return {name: _READ_GROUP[name](samples) if name in _READ_GROUP else _READ[name](spec, first)
            for name in spec.inputs if name in _READ_GROUP or name in _READ}


@dataclass(frozen=True)
class _Prepared:
    """A call ready to make, or the outcome that makes calling unnecessary."""

    kwargs: dict[str, Any] = field(default_factory=dict)
    parsed: str | None = None
    done: Outcome | None = None


def _prepare(spec: RewardSpec, call: Call) -> _Prepared:
    response, inputs = call
    kwargs = {**spec.options, **inputs}
    if spec.parser is None:
        return _Prepared(kwargs)
    try:
        parsed = spec.parser(response)
    except ParseError as exc:
        score = Score(spec.on_parse_error, f"parse failed ({spec.parser.name}): {exc}", {PARSED_OK: 0.0})
        return _Prepared(done=Outcome(spec.name, score))
    except BaseException as exc:  # a parser bug is the reward author's, reported like a reward error
        if not _raised(exc):
            raise
        return _Prepared(done=Outcome(spec.name,
                                      failure=Failure(REWARD_ERROR, f"parser {spec.parser.name}: {describe(exc)}")))
    kwargs["parsed"] = parsed
    return _Prepared(kwargs, parsed=_shown(parsed))


def _finish(spec: RewardSpec, call: _Prepared, result: Any) -> Outcome:
    try:
        score = to_score(result)
        check_range(score, spec.score_range)
    except InvalidScoreError as exc:
        return Outcome(spec.name, failure=Failure(INVALID_SCORE, f"reward {spec.name!r}: {exc}"), parsed=call.parsed)
    if spec.parser is not None:
        score = Score(score.value, score.reason, {PARSED_OK: 1.0, **score.metrics})
    return Outcome(spec.name, score, parsed=call.parsed)


def _raised(exc: BaseException) -> bool:
    """Whether an exception out of a reward is the reward's own failure, to report as its outcome.

    Any exception is, BaseException included (a reward's SystemExit or KeyboardInterrupt must not stop
    a worker or the server), except the cancellation of the task running an async reward: its timeout, or
    its request going away."""
    if not isinstance(exc, asyncio.CancelledError):
        return True
    try:
        task = asyncio.current_task()
    except RuntimeError:  # no event loop: a sync reward raised it itself
        return True
    if task is None:
        return True
    cancelling = getattr(task, "cancelling", None)  # Python 3.11+; before, every CancelledError is a cancellation
    return cancelling is not None and not cancelling()


def _error(spec: RewardSpec, exc: BaseException, parsed: str | None = None) -> Outcome:
    if isinstance(exc, MissingReferenceError):  # the request's fault, not the reward's: no traceback location
        code = exc.code if exc.code in DATA_FAULTS else MISSING_REFERENCE
        return Outcome(spec.name, failure=Failure(code, f"{type(exc).__name__}: {exc}"), parsed=parsed)
    # A rewardkit error declares its code (rewardkit._errors; SandboxError: SANDBOX_ERROR, an infrastructure failure).
    if isinstance(exc, RewardkitError):
        code = exc.code
    else:
        code = OUT_OF_MEMORY if isinstance(exc, MemoryError) else REWARD_ERROR
    return Outcome(spec.name, failure=Failure(code, describe(exc)), parsed=parsed)


def _finish_group(spec: RewardSpec, result: Any, size: int) -> list[Outcome]:
    if not isinstance(result, (list, tuple)) or len(result) != size:
        got = f"{len(result)} scores" if isinstance(result, (list, tuple)) else type(result).__name__
        failure = Failure(INVALID_SCORE, f"grouped reward {spec.name!r} returned {got} for {size} responses")
        return [Outcome(spec.name, failure=failure) for _ in range(size)]
    return [_finish(spec, _Prepared(), item) for item in result]


def run_call(spec: RewardSpec, call: Call) -> Outcome:
    """Run a synchronous single or parse-then-score reward on one call's inputs, in the calling thread."""
    prepared = _prepare(spec, call)
    if prepared.done is not None:
        return prepared.done
    try:
        result = spec.fn(**prepared.kwargs)
    except BaseException as exc:  # SystemExit, KeyboardInterrupt too: see _raised
        return _error(spec, exc, prepared.parsed)
    return _finish(spec, prepared, result)


def run_group(spec: RewardSpec, inputs: dict[str, Any], size: int) -> list[Outcome]:
    """Run a synchronous grouped reward on a group's inputs (`size` responses), in the calling thread."""
    try:
        result = spec.fn(**{**spec.options, **inputs})
    except BaseException as exc:  # SystemExit, KeyboardInterrupt too: see _raised
        return [_error(spec, exc)] * size
    return _finish_group(spec, result, size)


def run_leaf(spec: RewardSpec, samples: Sequence[Sample]) -> list[Outcome]:
    """Run a synchronous reward on samples in the calling thread."""
    if spec.grouped:
        return run_group(spec, group_inputs(spec, samples), len(samples))
    return [run_call(spec, call_inputs(spec, sample)) for sample in samples]


async def _arun_call(spec: RewardSpec, call: Call) -> Outcome:
    prepared = _prepare(spec, call)
    if prepared.done is not None:
        return prepared.done
    try:
        result = await spec.fn(**prepared.kwargs)
    except BaseException as exc:
        if not _raised(exc):
            raise
        return _error(spec, exc, prepared.parsed)
    return _finish(spec, prepared, result)


async def arun_leaf(spec: RewardSpec, samples: Sequence[Sample]) -> list[Outcome]:
    """Run an async reward on samples on the event loop, the samples of a group concurrently."""
    if not spec.grouped:
        if len(samples) == 1:
            return [await _arun_call(spec, call_inputs(spec, samples[0]))]
        return list(await asyncio.gather(*(_arun_call(spec, call_inputs(spec, sample)) for sample in samples)))
    try:
        result = await spec.fn(**{**spec.options, **group_inputs(spec, samples)})
    except BaseException as exc:
        if not _raised(exc):
            raise
        return [_error(spec, exc)] * len(samples)
    return _finish_group(spec, result, len(samples))
