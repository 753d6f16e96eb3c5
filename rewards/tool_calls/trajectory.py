"""Trajectory shaping: small rewards over an agent's episode, meant as composite components.

`tool_error_rate` (how many tool results were errors), `turn_budget` (a penalty
past a number of assistant turns), and `final_answer_after_tools`, which makes
any answer reward score only what the model said after its last tool result.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Annotated, Any, Callable, Sequence

from annotated_types import Ge, Gt, Le

from rewardkit import (
    Message,
    MissingReferenceError,
    RegistrationError,
    RewardkitError,
    RewardSpec,
    Sample,
    Score,
    call,
    reward,
)
from rewardkit.registry import spec_of

from ..common.options import OptionError
from ._calls import episode

DEFAULT_ERROR_PATTERN = r"^\s*(error|exception|traceback)\b"


# ---- tool_error_rate -------------------------------------------------------------------------------

def _json_error(text: str) -> bool | None:
    """Whether a JSON tool result reports an error (MCP `isError`, Gemini `{"error": ...}`); None if not JSON."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, dict):
        return None
    return value.get("isError") is True or value.get("error") not in (None, "", False)


def is_error_result(text: str, pattern: re.Pattern[str]) -> bool:
    """A tool result is an error when its JSON says so, or its text matches `pattern`."""
    verdict = _json_error(text) if text.lstrip().startswith("{") else None
    return verdict if verdict is not None else bool(pattern.search(text))


def _check_error_options(error_pattern: str, **_: Any) -> None:
    """error_pattern must compile (its type is in the signature)."""
    try:
        re.compile(error_pattern)
    except re.error as exc:
        raise OptionError(f"error_pattern is not a regular expression: {exc}") from None


@reward(check_options=_check_error_options)
def tool_error_rate(
    trajectory: Sequence[Message],
    messages: Sequence[Message],
    error_pattern: str = DEFAULT_ERROR_PATTERN,
    as_penalty: bool = False,
) -> Score:
    """1 - the share of the episode's tool results that are errors (1.0 when there are none).

    A tool result (a `tool` message after the prompt: DashScope `role: "tool"`)
    is an error when it is a JSON object with `"isError": true` (MCP) or a
    non-empty `"error"` (Gemini's functionResponse convention), or when its
    text matches `error_pattern` (case-insensitive; default: it starts with
    "error", "exception" or "traceback"). A Vertex request holds one model
    turn, so it has no tool results of the model's. An episode without tool
    calls scores 1.0: pair it with `tool_call_match` or an answer reward.

    Parameters:
        error_pattern: regular expression marking an error result in plain text.
        as_penalty: score -share in [-1, 0] instead, for a weighted_sum composite.
    """
    pattern = re.compile(error_pattern, re.IGNORECASE)
    results = [m for m in episode(trajectory, messages) if m.role == "tool"]
    errors = sum(is_error_result(m.text, pattern) for m in results)
    rate = errors / len(results) if results else 0.0
    metrics = {"tool_results": float(len(results)), "tool_errors": float(errors), "error_rate": rate}
    reason = f"{errors} of {len(results)} tool result(s) are errors" if results else "no tool results"
    return Score(-rate if as_penalty else 1.0 - rate, reason, metrics)


# ---- turn_budget -------------------------------------------------------------------------------------

@reward
def turn_budget(
    trajectory: Sequence[Message],
    messages: Sequence[Message],
    max_turns: Annotated[int, Ge(1)] = 8,
    penalty_per_turn: Annotated[float, Gt(0), Le(1)] = 0.25,
    as_penalty: bool = False,
) -> Score:
    """1.0 up to `max_turns` assistant turns, then `penalty_per_turn` less per extra turn, down to 0.0.

    Turns are the episode's assistant messages (DashScope: those after the
    prompt; Vertex: the one response). Metric `turns`.

    Parameters:
        max_turns: the assistant turns allowed at full score (default 8).
        penalty_per_turn: what each turn past the budget costs (default 0.25).
        as_penalty: score in [-1, 0] (score - 1), for a weighted_sum composite.
    """
    turns = sum(m.role == "assistant" for m in episode(trajectory, messages))
    over = max(0, turns - max_turns)
    value = max(0.0, 1.0 - over * penalty_per_turn)
    reason = f"{turns} assistant turn(s), {over} over the budget of {max_turns}" if over else \
        f"{turns} assistant turn(s), within the budget of {max_turns}"
    return Score(value - 1.0 if as_penalty else value, reason, {"turns": float(turns)})


# ---- final_answer_after_tools --------------------------------------------------------------------------

class AnswerRewardError(RewardkitError, RuntimeError):
    """The wrapped answer reward failed; the message is its failure."""


def answer_after_tools(trajectory: Sequence[Message], prompt: Sequence[Message]) -> tuple[str, str]:
    """(text, thinking) of the assistant turns after the episode's last tool result.

    Without tool results: the last assistant turn, as `response` is. An episode
    that ends on a tool result has no answer: ("", "").
    """
    turns = episode(trajectory, prompt)
    last_tool = max((i for i, m in enumerate(turns) if m.role == "tool"), default=None)
    if last_tool is None:
        answers = [m for m in turns if m.role == "assistant"][-1:]
    else:
        answers = [m for m in turns[last_tool + 1:] if m.role == "assistant"]
    return "\n".join(m.text for m in answers if m.text), "\n".join(m.thinking for m in answers if m.thinking)


def final_answer_after_tools(base: Any, name: str | None = None) -> Callable[[Sample], Score]:
    """A reward that runs `base` (any single or parse-then-score reward) on the answer after the last tool result.

    The answer is the text of the assistant turns that follow the episode's
    last tool result (`answer_after_tools`): a number the model wrote before
    calling the calculator, or a tool result it copied, never counts. The
    new reward is registered as `name` (default "<base>_after_tools"); a
    failure of `base` is its failure. Returns the decorated function, usable
    wherever a reward is (a composite's components, `variant`, `score`).
    """
    spec = spec_of(base)
    if not isinstance(spec, RewardSpec) or spec.grouped or spec.is_async:
        raise RegistrationError(f"final_answer_after_tools: {spec.name!r} must be a synchronous single or "
                                "parse-then-score reward")
    label = name or f"{spec.name}_after_tools"

    def after_tools(sample: Sample) -> Score:
        text, thinking = answer_after_tools(sample.trajectory, sample.prompt)
        answer = dataclasses.replace(sample, response=text, thinking=thinking)
        outcome = call(spec, answer)
        if outcome.failure is not None and outcome.failure.code == MissingReferenceError.code:
            raise MissingReferenceError(outcome.failure.message)
        if outcome.score is None:
            raise AnswerRewardError(f"{spec.name}: {outcome.failure.message if outcome.failure else 'no score'}")
        return outcome.score

    after_tools.__name__ = after_tools.__qualname__ = label
    after_tools.__doc__ = (f"{spec.name}, scored on the answer after the last tool result.\n\n"
                           f"{spec.doc.splitlines()[0] if spec.doc else ''}")
    return reward(name=label, reference_keys=spec.reference_keys, timeout=spec.timeout, fallback=spec.fallback,
                  setup=spec.setup, preload=spec.preload)(after_tools)
