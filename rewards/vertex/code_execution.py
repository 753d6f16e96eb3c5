"""Serve an unchanged Vertex AI code-execution scorer: `def evaluate(example: dict, response: dict) -> float`.

    from rewards.vertex import code_execution_reward, from_snippet, vertex_evaluate

    def evaluate(example, response) -> float:          # as pasted into codeExecutionRewardScorer
        answer = response.get("parts", [])[0]["text"]
        return 1.0 if answer == example.get("references", {}).get("answer") else -1.0

    my_scorer = code_execution_reward(evaluate, name="my_scorer")
    # or: @vertex_evaluate(name="my_scorer") above the function,
    # or: from_snippet(job_config["codeExecutionRewardScorer"]["pythonCodeSnippet"], name="my_scorer")

`evaluate` gets the two dicts the platform passes, with camelCase keys:
`example` = the dataset line (`contents`, `systemInstruction` when set,
`references` when set), `response` = the model's Content (`role`, `parts`).
On a Vertex request they are the request's own `example` and `response`
(snake_case keys a client may send are renamed to camelCase; map values such
as `references` and function-call `args` are left as they are). On a
DashScope or local request they are rebuilt from the sample, see
`vertex_example` and `vertex_response`.
"""

from __future__ import annotations

import copy
import inspect
import json
import math
import numbers
from typing import Any, Callable, Mapping

from rewardkit import Message, RegistrationError, RewardSpec, Sample, Score, reward, variant
from rewardkit.registry import attach, spec_of

from .string_match import as_text

# Vertex allows each evaluate() call 100 seconds.
VERTEX_TIMEOUT = 100.0
VERTEX_RANGE = (-1.0, 1.0)

# Fields whose values are maps of user keys (dataset references, function-call
# arguments and results): their keys reach evaluate() exactly as written.
_VERBATIM = frozenset({"references", "args", "response"})


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


def camel_case(value: Any) -> Any:
    """A copy of a ProtoJSON value with snake_case field names in camelCase, map fields untouched."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = _camel(key) if isinstance(key, str) else key
            out[name] = copy.deepcopy(item) if name in _VERBATIM else camel_case(item)
        return out
    if isinstance(value, list):
        return [camel_case(item) for item in value]
    return copy.deepcopy(value)


def _from_vertex(sample: Sample) -> bool:
    raw = sample.raw
    return (sample.metadata.platform == "vertex" and isinstance(raw, Mapping)
            and isinstance(raw.get("example"), Mapping) and isinstance(raw.get("response"), Mapping))


def _arguments(text: str) -> Any:
    try:
        parsed = json.loads(text) if text else {}
    except ValueError:
        return {"arguments": text}
    return parsed if isinstance(parsed, dict) else {"arguments": parsed}


def _tool_result(text: str) -> dict[str, Any]:
    try:
        parsed = json.loads(text)
    except ValueError:
        return {"content": text}
    return parsed if isinstance(parsed, dict) else {"content": parsed}


def _content(message: Message, *, include_thoughts: bool) -> dict[str, Any]:
    if message.role == "tool":
        result: dict[str, Any] = {"name": message.name or "", "response": _tool_result(message.text)}
        if message.tool_call_id:
            result["id"] = message.tool_call_id
        return {"role": "user", "parts": [{"functionResponse": result}]}
    parts: list[dict[str, Any]] = []
    if include_thoughts and message.thinking:
        parts.append({"text": message.thinking, "thought": True})
    if message.text or not message.tool_calls:
        parts.append({"text": message.text})
    for call in message.tool_calls:
        function_call: dict[str, Any] = {"name": call.name, "args": _arguments(call.arguments)}
        if call.id:
            function_call["id"] = call.id
        parts.append({"functionCall": function_call})
    return {"role": "model" if message.role == "assistant" else "user", "parts": parts}


def _final_index(sample: Sample) -> int | None:
    for i in range(len(sample.trajectory) - 1, -1, -1):
        if sample.trajectory[i].role == "assistant":
            return i
    return None


def vertex_example(sample: Sample, *, ground_truth_key: str | None = "ground_truth") -> dict[str, Any]:
    """The `example` dict Vertex would pass for this sample.

    From a Vertex request: the request's `example`, camelCased. Otherwise
    rebuilt: `contents` = every turn before the final assistant message
    (system messages excluded; assistant turns as role "model", tool results
    as `functionResponse` parts), `systemInstruction` = the system message
    when there is one, `references` = DashScope `rollout_extra` (or the local
    references) with every value as a string, since Vertex references are
    strings (other values as compact JSON); DashScope `ground_truth` is added
    under `ground_truth_key` unless that key is already there.
    """
    if _from_vertex(sample):
        return camel_case(sample.raw["example"])  # type: ignore[index]
    final = _final_index(sample)
    history = sample.trajectory[:final] if final is not None else sample.prompt
    example: dict[str, Any] = {
        "contents": [_content(m, include_thoughts=False) for m in history if m.role != "system"],
    }
    if sample.system is not None:
        example["systemInstruction"] = {"parts": [{"text": sample.system}]}
    references = {str(k): as_text(v) for k, v in sample.references.items() if v is not None}
    if sample.ground_truth is not None and ground_truth_key and ground_truth_key not in references:
        references[ground_truth_key] = as_text(sample.ground_truth)
    if references:
        example["references"] = references
    return example


def vertex_response(sample: Sample, *, include_thoughts: bool = False) -> dict[str, Any]:
    """The `response` Content Vertex would pass for this sample.

    From a Vertex request: the request's `response`, camelCased, thought
    parts included as sent. Otherwise rebuilt from the final assistant
    message: `{"role": "model", "parts": [{"text": answer}, *functionCall parts]}`,
    with a leading `{"text": reasoning, "thought": true}` part only when
    `include_thoughts` is set, so `response["parts"][0]["text"]` is the answer.
    """
    if _from_vertex(sample):
        return camel_case(sample.raw["response"])  # type: ignore[index]
    final = _final_index(sample)
    message = sample.trajectory[final] if final is not None else Message(
        "assistant", sample.response, thinking=sample.thinking
    )
    return _content(message, include_thoughts=include_thoughts)


def _check_evaluate(evaluate: Any, name: str) -> None:
    if not callable(evaluate):
        raise RegistrationError(f"code execution reward {name!r}: expected a function evaluate(example, response), "
                                f"got {evaluate!r}")
    if inspect.iscoroutinefunction(evaluate):
        raise RegistrationError(f"code execution reward {name!r}: evaluate must be a plain (not async) function, "
                                "as on Vertex")
    try:
        inspect.signature(evaluate).bind({}, {})
    except TypeError:
        raise RegistrationError(
            f"code execution reward {name!r}: evaluate{inspect.signature(evaluate)} cannot be called as "
            "evaluate(example, response), which is how Vertex calls it"
        ) from None
    except ValueError:  # no signature to read (a builtin): let the call decide
        pass


def _as_number(value: Any) -> Any:
    # numpy scalars and the like: Vertex turns the result into a float.
    if isinstance(value, numbers.Real) or isinstance(value, (str, bytes)) or not hasattr(value, "__float__"):
        return value
    return float(value)


def code_execution_reward(
    evaluate: Callable[[dict[str, Any], dict[str, Any]], Any],
    name: str | None = None,
    *,
    weight: float = 1.0,
    fallback: float | None = None,
    timeout: float | None = VERTEX_TIMEOUT,
    clip: bool = True,
    include_thoughts: bool = False,
    ground_truth_key: str | None = "ground_truth",
) -> RewardSpec:
    """Serve a Vertex code-execution `evaluate(example, response) -> float` as a reward named `name`.

    Assign the result to a module-level name so the loader collects it.
    `clip` (default True) clips the result to [-1, 1] as Vertex does, on
    every contract, the reason saying so. `timeout` defaults to Vertex's
    100 s per call. `include_thoughts` and `ground_truth_key` shape the
    dicts rebuilt for non-Vertex requests (see `vertex_response`,
    `vertex_example`). A function that raises fails the call
    (`REWARD_ERROR`) unless `fallback` is set; a result that is not a
    number is `INVALID_SCORE`.
    """
    label = name or getattr(evaluate, "__name__", None) or "evaluate"
    _check_evaluate(evaluate, label)

    def vertex_code_execution(sample: Sample, clip: bool = True, include_thoughts: bool = False,
                              ground_truth_key: str | None = "ground_truth") -> Any:
        example = vertex_example(sample, ground_truth_key=ground_truth_key)
        response = vertex_response(sample, include_thoughts=include_thoughts)
        value = _as_number(evaluate(example, response))
        if not isinstance(value, numbers.Real) or isinstance(value, bool) or not math.isfinite(value):
            return value  # rewardkit reports anything that is not a finite number as INVALID_SCORE
        low, high = VERTEX_RANGE
        if clip and not low <= float(value) <= high:
            return Score(min(max(float(value), low), high),
                         f"evaluate() returned {value!r}, clipped to [-1, 1] as Vertex does", {"clipped": 1.0})
        return Score(float(value), f"evaluate() returned {value!r}")

    vertex_code_execution.__doc__ = inspect.cleandoc(
        f"""{inspect.getdoc(evaluate) or 'A Vertex AI code-execution scorer.'}

        Vertex code-execution scorer {getattr(evaluate, '__qualname__', label)}(example, response),
        served by rewards.vertex.code_execution. Options: clip (True), include_thoughts (False),
        ground_truth_key ('ground_truth')."""
    )
    base = spec_of(reward(vertex_code_execution, name=label, weight=weight, fallback=fallback, timeout=timeout))
    return variant(base, label, clip=clip, include_thoughts=include_thoughts, ground_truth_key=ground_truth_key)


def vertex_evaluate(fn: Callable[..., Any] | None = None, *, name: str | None = None, **settings: Any) -> Any:
    """Decorator form of `code_execution_reward`: `@vertex_evaluate` or `@vertex_evaluate(name=..., clip=...)`.

    The function stays the plain `evaluate(example, response)` (call it in
    unit tests as Vertex would); the reward hangs on it, named `name` or the
    function's name.
    """

    def hang(f: Callable[..., Any]) -> Callable[..., Any]:
        return attach(f, code_execution_reward(f, name or getattr(f, "__name__", None), **settings))

    return hang(fn) if fn is not None else hang


def from_snippet(code: str, name: str, **settings: Any) -> RewardSpec:
    """A reward from a `codeExecutionRewardScorer.pythonCodeSnippet`, run as is.

    The snippet runs once, here, in a fresh namespace, and must define
    `evaluate(example, response)`; `settings` are those of code_execution_reward.
    """
    if not isinstance(code, str) or not code.strip():
        raise RegistrationError(f"code execution reward {name!r}: the snippet is empty")
    namespace: dict[str, Any] = {"__name__": f"vertex_snippet_{name}", "__builtins__": __builtins__}
    try:
        exec(compile(code, f"<pythonCodeSnippet {name}>", "exec"), namespace)  # noqa: S102 - the user's own scorer
    except Exception as exc:
        raise RegistrationError(
            f"code execution reward {name!r}: the snippet failed to load: {type(exc).__name__}: {exc}"
        ) from None
    evaluate = namespace.get("evaluate")
    if evaluate is None:
        raise RegistrationError(f"code execution reward {name!r}: the snippet defines no evaluate(example, response)")
    return code_execution_reward(evaluate, name, **settings)
