"""`tool_call_match`: the model's tool calls against the expected calls in the references."""

from __future__ import annotations

from typing import Annotated, Any, Mapping, Sequence

from annotated_types import Ge, MinLen

from rewardkit import Message, Score, reward

from ._calls import Scope, expected_calls, model_calls
from ._match import Mode, Rules, match, score


@reward
def tool_call_match(
    trajectory: Sequence[Message],
    messages: Sequence[Message],
    references: Mapping[str, Any],
    ground_truth: Any = None,
    mode: Mode = "f1",
    calls_key: Annotated[str, MinLen(1)] = "tool_calls",
    scope: Scope = "trajectory",
    strip_mcp_namespace: bool = True,
    float_tolerance: Annotated[float, Ge(0)] = 1e-6,
    loose_strings: bool = False,
    omittable: Sequence[Annotated[str, MinLen(1)]] = (),
) -> Score:
    """The model's tool calls against the expected calls; parallel calls match in any order.

    Expected: `references[calls_key]` (Vertex: JSON text; DashScope
    `rollout_extra`: an object), else DashScope `ground_truth`, as OpenAI
    tool-call JSON `{"name": ..., "arguments": {...}}` (arguments may be JSON
    text; the OpenAI `{"type": "function", "function": {...}}` wrapper is
    accepted), or a list of them for parallel calls. A call may list
    `"omittable": ["arg", ...]`. `[]` expects no call. Model calls: DashScope
    assistant `tool_calls`, Vertex `functionCall` parts. The calls form an
    unordered multiset paired by maximum bipartite matching; a pair matches
    when the names are equal and the arguments compare equal by JSON type
    (1 is not "1", true is not 1, 1 equals 1.0), dict keys exactly, lists by
    length and element, numbers within `float_tolerance`.

    Score by `mode`, with k matched, n expected, m called: "f1" (default)
    2k / (n + m), so junk calls cost; "fractional" k / n (extra calls are
    free); "binary_strict" 1 when k = n = m, else 0. Anything short of a
    perfect match names its category as the reason and as a metric:
    NO_TOOL_CALL, UNEXPECTED_TOOL, ARGUMENTS_DECODE_ERROR (malformed argument
    JSON, the model's fault: a score, never an error), ARGUMENT_TYPE_DIFFERENT,
    ARGUMENT_KEYS_DIFFERENT, ARGUMENT_VALUE_DIFFERENT, CALL_COUNT_DIFFERENT.
    Missing or unreadable expected calls are an error (a dataset bug).

    Parameters:
        mode: "f1", "fractional" or "binary_strict".
        calls_key: the references key holding the expected calls (default "tool_calls").
        scope: "trajectory" (the calls of every assistant turn of the
            episode, default: an agent's calls spread over turns) or "final"
            (only the calls of the last assistant turn that made calls: the
            text answer after it, and a failed attempt before a retry, do not
            count). A Vertex response is one turn.
        strip_mcp_namespace: `mcp__server__tool` matches `tool` (default True).
        float_tolerance: absolute tolerance for numbers that are not both integers (default 1e-6).
        loose_strings: strings compare case- and whitespace-insensitively (default False).
        omittable: top-level arguments the model may leave out ("unit" for
            every tool, "convert.unit" for one).
    """
    expected = expected_calls(references, ground_truth, calls_key, strip_mcp_namespace, omittable)
    called = model_calls(trajectory, messages, scope, strip_mcp_namespace)
    result = match(expected, called, Rules(float(float_tolerance), bool(loose_strings)))
    value = score(result, mode)
    metrics = {
        "matched": float(result.matched), "expected": float(result.expected), "called": float(result.called),
        "precision": result.matched / result.called if result.called else float(not result.expected),
        "recall": result.matched / result.expected if result.expected else float(not result.called),
    }
    if result.category is None:
        return Score(value, result.detail, metrics)
    metrics[result.category] = 1.0
    return Score(value, f"{result.category}: {result.detail}", metrics)
