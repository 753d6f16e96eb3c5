"""`tool_schema_valid`: each of the model's tool calls validates against its tool's JSON Schema."""

from __future__ import annotations

from typing import Annotated, Any, Mapping, Sequence

from annotated_types import MinLen

from rewardkit import Message, MissingReferenceError, Score, reward

from ..common.options import OptionError
from ..json import schema_validator
from ._calls import Call, Scope, load_json, model_calls, normalise_name
from ._match import (
    ARGUMENT_KEYS_DIFFERENT,
    ARGUMENT_TYPE_DIFFERENT,
    ARGUMENT_VALUE_DIFFERENT,
    ARGUMENTS_DECODE_ERROR,
    NO_TOOL_CALL,
    UNEXPECTED_TOOL,
)

# Gemini's `parameters` is an OpenAPI 3.0 Schema subset spelling types in capitals ("OBJECT");
# https://ai.google.dev/api/caching#Schema. JSON Schema wants them lower-case.
_GEMINI_TYPES = {"STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT", "NULL"}
_KEYS_VALIDATORS = {"required", "additionalProperties", "propertyNames", "minProperties", "maxProperties",
                    "dependentRequired", "unevaluatedProperties"}


_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions")
_SUBSCHEMAS = ("items", "additionalProperties", "not", "anyOf", "oneOf", "allOf", "prefixItems")


def _json_schema(schema: Any) -> Any:
    """A Gemini/OpenAPI schema with its capitalised types and `nullable` as JSON Schema spells them."""
    if isinstance(schema, list):
        return [_json_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: _json_schema(sub) for name, sub in value.items()}
        elif key in _SUBSCHEMAS:
            out[key] = _json_schema(value)
        else:
            out[key] = value
    kind = out.get("type")
    if isinstance(kind, str) and kind in _GEMINI_TYPES:
        out["type"] = kind.lower()
    if out.get("nullable") is True and isinstance(out.get("type"), str):
        del out["nullable"]
        out["type"] = [out["type"], "null"]
    return out


def _declarations(value: Any) -> list[tuple[str, Any]]:
    """(name, parameters schema) from OpenAI `tools`, Gemini `tools` / function declarations, or {name: schema}."""
    if isinstance(value, dict) and not ({"function", "functionDeclarations", "function_declarations",
                                         "name"} & set(value)):
        return [(str(name), schema) for name, schema in value.items()]
    found: list[tuple[str, Any]] = []
    for item in value if isinstance(value, list) else [value]:
        if not isinstance(item, dict):
            raise ValueError(f"a tool declaration must be an object, got {type(item).__name__}")
        nested = item.get("functionDeclarations", item.get("function_declarations"))
        if isinstance(nested, list):
            found.extend(_declarations(nested))
            continue
        function: dict[str, Any] = item["function"] if isinstance(item.get("function"), dict) else item
        name = function.get("name")
        if not isinstance(name, str) or not name:
            raise ValueError("a tool declaration has no \"name\"")
        schema = function.get("parametersJsonSchema",
                              function.get("parameters_json_schema", function.get("parameters")))
        found.append((name, {"type": "object"} if schema is None else schema))
    return found


def tool_schemas(references: Mapping[str, Any], key: str, strip_mcp: bool) -> dict[str, Any]:
    """The argument schema of each declared tool, by normalised name."""
    if references.get(key) is None:
        raise MissingReferenceError(
            f"tool_schema_valid: no tool declarations in the request. Put the tools (OpenAI `tools`, Gemini "
            f"`functionDeclarations`, or {{name: schema}}) in Vertex `references.{key}` (JSON text) or DashScope "
            f"`rollout_extra.{key}`"
        )
    try:
        declared = _declarations(load_json(references[key], f"references[{key!r}]"))
    except ValueError as exc:
        raise ValueError(f"tool_schema_valid: references[{key!r}]: {exc}") from None
    return {normalise_name(name, strip_mcp): _json_schema(schema) for name, schema in declared}


def _problem(call: Call, schemas: Mapping[str, Any]) -> tuple[str, str] | None:
    if call.name not in schemas:
        return UNEXPECTED_TOOL, f"{call.raw_name}: not a declared tool (declared: {', '.join(sorted(schemas))})"
    if call.arguments is None:
        return ARGUMENTS_DECODE_ERROR, f"{call.raw_name}: {call.decode_error}"
    try:
        validator = schema_validator(schemas[call.name], False)
    except OptionError as exc:
        raise OptionError(f"tool_schema_valid: tool {call.name!r}: {exc}") from None
    error = next(iter(validator.iter_errors(call.arguments)), None)
    if error is None:
        return None
    category = (ARGUMENT_TYPE_DIFFERENT if error.validator == "type"
                else ARGUMENT_KEYS_DIFFERENT if error.validator in _KEYS_VALIDATORS else ARGUMENT_VALUE_DIFFERENT)
    return category, f"{call.raw_name}{error.json_path[1:]}: {error.message[:200]}"


@reward
def tool_schema_valid(
    trajectory: Sequence[Message],
    messages: Sequence[Message],
    references: Mapping[str, Any],
    tools_key: Annotated[str, MinLen(1)] = "tools",
    scope: Scope = "trajectory",
    strip_mcp_namespace: bool = True,
) -> Score:
    """The share of the model's tool calls whose arguments validate against the tool's JSON Schema.

    Schemas: `references[tools_key]` (neither platform's request carries tool
    declarations, so the dataset supplies them): OpenAI `tools`
    (`[{"type": "function", "function": {"name", "parameters"}}]`), Gemini
    `[{"functionDeclarations": [{"name", "parameters" | "parametersJsonSchema"}]}]`
    (capitalised OpenAPI types are read as JSON Schema types), or
    `{"tool name": schema}`; JSON text or an object. Each call scores 1 when
    it names a declared tool and its arguments are a JSON object the schema
    accepts; the score is the mean over calls (partial credit). No call
    scores 0 (NO_TOOL_CALL). The first failing call's category (UNEXPECTED_TOOL,
    ARGUMENTS_DECODE_ERROR, ARGUMENT_TYPE_DIFFERENT, ARGUMENT_KEYS_DIFFERENT,
    ARGUMENT_VALUE_DIFFERENT) is the reason and a metric.

    Parameters:
        tools_key: the references key holding the declarations (default "tools").
        scope: "trajectory" (every call of the episode, default) or "final" (the calls of the last
            assistant turn that made calls).
        strip_mcp_namespace: `mcp__server__tool` is checked against `tool`'s schema (default True).
    """
    schemas = tool_schemas(references, tools_key, strip_mcp_namespace)
    calls = model_calls(trajectory, messages, scope, strip_mcp_namespace)
    if not calls:
        return Score(0.0, f"{NO_TOOL_CALL}: the model made no tool call",
                     {"valid": 0.0, "called": 0.0, NO_TOOL_CALL: 1.0})
    problems = [_problem(call, schemas) for call in calls]
    valid = sum(p is None for p in problems)
    metrics = {"valid": float(valid), "called": float(len(calls))}
    first = next((p for p in problems if p is not None), None)
    if first is None:
        return Score(1.0, f"all {len(calls)} call(s) valid", metrics)
    metrics[first[0]] = 1.0
    return Score(valid / len(calls), f"{first[0]}: {first[1]} ({valid} of {len(calls)} call(s) valid)", metrics)
