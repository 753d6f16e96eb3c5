"""Reading tool calls: the model's, off the trajectory, and the expected ones, off the references.

Both sides become `Call`s: a normalised name and the arguments as a decoded JSON
object, or the reason they could not be decoded. Reading never raises on the
model's side (malformed arguments are the model's fault and score 0); a gold
answer that cannot be read is a request error (MissingReferenceError / ValueError).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal, Mapping, Sequence

from rewardkit import Message, MissingReferenceError

from ..common import shorten

# Which assistant turns' calls count (tool_call_match's and tool_schema_valid's `scope` option).
Scope = Literal["final", "trajectory"]
_MCP_PREFIX = "mcp__"


@dataclass(frozen=True)
class Call:
    """One tool call. `arguments` is the decoded JSON object; None with `decode_error` set when it is not one."""

    name: str
    arguments: Mapping[str, Any] | None
    decode_error: str | None = None
    raw_name: str = ""
    omittable: frozenset[str] = frozenset()


def normalise_name(name: str, strip_mcp: bool) -> str:
    """`mcp__server__tool` -> `tool` (the MCP namespacing agent hosts add), when `strip_mcp`."""
    name = name.strip()
    if strip_mcp and name.startswith(_MCP_PREFIX):
        parts = name.split("__", 2)
        if len(parts) == 3 and parts[1] and parts[2]:
            return parts[2]
    return name


def decode_arguments(text: str) -> tuple[Mapping[str, Any] | None, str | None]:
    """The arguments object of a call's JSON text, or (None, why not).

    Empty or blank text is no arguments, `{}`: OpenAI-style producers send `"arguments": ""` for a call
    without any (docs/agents.md, "Empty arguments")."""
    if not text.strip():
        return {}, None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return None, f"arguments are not valid JSON ({shorten(str(exc), 120)})"
    if not isinstance(value, dict):
        return None, f"arguments are JSON {type(value).__name__}, not an object"
    return value, None


def episode(trajectory: Sequence[Message], prompt: Sequence[Message]) -> tuple[Message, ...]:
    """The turns the model produced: the trajectory after the prompt.

    DashScope: every message from the first assistant turn on (tool results included);
    Vertex: the one response Content.
    """
    return tuple(trajectory[len(prompt):])


def model_calls(trajectory: Sequence[Message], prompt: Sequence[Message], scope: str,
                strip_mcp: bool) -> list[Call]:
    """The model's calls: of its last assistant turn that made calls (`final`) or of all its turns (`trajectory`).

    "final" skips the turns after the last calling one: a finished episode ends on the text answer, which
    calls nothing, and the calls that count are the ones that answer came from (after any retry).
    """
    turns = [m for m in episode(trajectory, prompt) if m.role == "assistant"]
    if scope == "final":
        turns = [m for m in turns if m.tool_calls][-1:]
    calls = []
    for message in turns:
        for tool_call in message.tool_calls:
            arguments, error = decode_arguments(tool_call.arguments)
            calls.append(Call(normalise_name(tool_call.name, strip_mcp), arguments, error, tool_call.name))
    return calls


# ---- the expected calls ----------------------------------------------------------------------------

def load_json(value: Any, where: str) -> Any:
    """A JSON value given as text (Vertex references are strings) or already decoded (DashScope)."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError as exc:
            raise ValueError(f"{where} is not valid JSON: {shorten(str(exc), 120)}") from None
    return value


def _expected_call(item: Any, where: str, strip_mcp: bool, omittable: frozenset[str]) -> Call:
    if not isinstance(item, dict):
        raise ValueError(f"{where} must be a tool call object {{\"name\", \"arguments\"}}, got {type(item).__name__}")
    # OpenAI's {"type", "function"}
    function: dict[str, Any] = item["function"] if isinstance(item.get("function"), dict) else item
    name = function.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{where} has no tool name (\"name\")")
    arguments = function.get("arguments", function.get("args"))
    if arguments is None:  # left out or null: no arguments, as for the model's calls
        arguments = {}
    if isinstance(arguments, str):
        arguments, error = decode_arguments(arguments)
        if error:
            raise ValueError(f"{where} ({name}): {error}")
    if not isinstance(arguments, dict):
        raise ValueError(f"{where} ({name}): arguments must be a JSON object, got {type(arguments).__name__}")
    declared = item.get("omittable", [])
    if not isinstance(declared, list) or not all(isinstance(a, str) for a in declared):
        raise ValueError(f"{where} ({name}): \"omittable\" must be a list of argument names")
    normalised = normalise_name(name, strip_mcp)
    own = {a.split(".", 1)[1] for a in omittable if a.startswith(normalised + ".")}
    general = {a for a in omittable if "." not in a}
    return Call(normalised, arguments, None, name, frozenset(declared) | own | general)


def expected_calls(references: Mapping[str, Any], ground_truth: Any, key: str, strip_mcp: bool,
                   omittable: Sequence[str] = ()) -> list[Call]:
    """The expected calls from `references[key]`, else DashScope `ground_truth`; a list is parallel calls."""
    if references.get(key) is not None:
        value, where = references[key], f"references[{key!r}]"
    elif ground_truth is not None:
        value, where = ground_truth, "ground_truth"
    else:
        raise MissingReferenceError(
            f"tool_call_match: no expected tool calls in the request. Put them in Vertex `references.{key}` "
            f"(JSON text) or DashScope `rollout_extra.{key}` / `ground_truth`: "
            '{"name": "add", "arguments": {"a": 1, "b": 2}}, or a list of such calls'
        )
    value = load_json(value, where)
    items = value if isinstance(value, list) else [value]
    declared = frozenset(omittable)
    return [_expected_call(item, f"{where}[{i}]" if isinstance(value, list) else where, strip_mcp, declared)
            for i, item in enumerate(items)]

