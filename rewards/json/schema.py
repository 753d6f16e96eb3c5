"""`json_schema`: the response is JSON that validates against a JSON Schema."""

from __future__ import annotations

import functools
import json
from typing import Annotated, Any, Literal, Mapping

from annotated_types import MinLen

from rewardkit import MissingReferenceError, ParseError, Score, reward

from ..common.options import OptionError
from .reading import _shown, read_json

_MAX_ERRORS = 1000  # errors counted per response: bounds the work on a huge, wrong document


def _load_schema(value: Any, where: str) -> Any:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise OptionError(f"{where} is not valid JSON: {exc}") from None
    if not isinstance(value, (dict, bool)):
        raise OptionError(f"{where} must be a JSON Schema object (or true/false), got {type(value).__name__}")
    return value


@functools.lru_cache(maxsize=256)
def _validator(schema_text: str, check_formats: bool) -> Any:
    """A checked validator for a schema (given as canonical JSON text, so it can be cached)."""
    import jsonschema  # lazily: only processes that validate pay for the import

    schema = json.loads(schema_text)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise OptionError(f"the schema is not a valid JSON Schema: {exc.message} (at {exc.json_path})") from None
    return cls(schema, format_checker=cls.FORMAT_CHECKER if check_formats else None)


def schema_validator(schema: Any, check_formats: bool) -> Any:
    return _validator(json.dumps(schema, sort_keys=True), check_formats)


def _check_schema_options(schema: Any, check_formats: bool, **_: Any) -> None:
    """A schema given as an option must be a valid JSON Schema (the other options' types are in the signature)."""
    if schema is not None:
        schema_validator(_load_schema(schema, "schema"), check_formats)


def _schema_keys(schema: Any) -> list[str]:
    """The top-level keys partial credit counts: `required`, else every `properties` key."""
    if not isinstance(schema, dict):
        return []
    required = schema.get("required")
    if isinstance(required, list) and required:
        return [k for k in required if isinstance(k, str)]
    properties = schema.get("properties")
    return list(properties) if isinstance(properties, dict) else []


@reward(check_options=_check_schema_options, metrics=["valid", "json_ok", "errors", "keys_valid"])
def json_schema(
    response: str,
    references: Mapping[str, Any],
    schema: Any = None,
    schema_key: Annotated[str, MinLen(1)] = "schema",
    mode: Literal["binary", "keys"] = "binary",
    extract: bool = True,
    check_formats: bool = False,
) -> Score:
    """The response is JSON that validates against a JSON Schema.

    jsonschema checks it; the draft comes from `$schema`, default 2020-12.

    Invalid or missing JSON scores 0 with the parse error; a failing
    document scores by `mode`, with the most relevant validation error
    (JSON path and message) as the reason. No schema, or an invalid one, is
    an error (a dataset or configuration bug), not a zero.

    Parameters:
        schema: the schema (dict, or JSON text). Default None: read it from
            the request's references under `schema_key` (a JSON string, as
            Vertex references are strings, or an object from DashScope rollout_extra).
        schema_key: the references key holding the schema (default "schema").
        mode: "binary" (1.0 valid, else 0.0) or "keys": partial credit
            (K valid keys + 1 if the whole document is valid) / (N + 1), over
            the N top-level keys of the schema (`required`, else all
            `properties`); a key is valid when it has no validation error
            under it and is present (or optional). A valid document scores
            1.0. Schemas without top-level keys score as "binary".
        extract: find the JSON in the response (a ```json fenced block or the
            outermost {...}/[...]; never inside <think>, after a negation or
            amid more than 300 characters of prose) rather than requiring the
            whole response to be JSON (default True).
        check_formats: also check `format` (date, email, ...) (default False,
            as the JSON Schema spec makes formats annotations).
    """
    if schema is None:
        found = references.get(schema_key)
        if found is None:
            raise MissingReferenceError(
                f"json_schema: no schema. Pass schema=... or put it in the request's references under {schema_key!r}"
            )
        schema = _load_schema(found, f"references[{schema_key!r}]")
    else:
        schema = _load_schema(schema, "schema")
    try:
        validator = schema_validator(schema, check_formats)
    except OptionError as exc:
        raise OptionError(f"json_schema: {exc}") from None
    try:
        document = read_json(response, extract)
    except ParseError as exc:
        return Score(0.0, f"not JSON: {exc}", {"valid": 0.0, "json_ok": 0.0})

    errors = []
    for error in validator.iter_errors(document):
        errors.append(error)
        if len(errors) >= _MAX_ERRORS:
            break
    metrics = {"valid": 0.0 if errors else 1.0, "json_ok": 1.0, "errors": float(len(errors))}
    keys = _schema_keys(schema) if mode == "keys" else []
    value = 0.0 if errors else 1.0
    if keys:
        failing = {error.absolute_path[0] for error in errors if error.absolute_path}
        required = set(schema.get("required") or ())
        if isinstance(document, dict):
            good = sum(1 for key in keys if key not in failing and (key in document or key not in required))
        else:
            good = 0
        value = (good + (0.0 if errors else 1.0)) / (len(keys) + 1)
        metrics["keys_valid"] = good / len(keys)
    if not errors:
        return Score(value, "valid against the schema", metrics)
    import jsonschema

    best = jsonschema.exceptions.best_match(errors)
    reason = f"{len(errors)}{'+' if len(errors) >= _MAX_ERRORS else ''} validation error(s); " \
             f"{best.json_path}: {_shown(best.message)}"
    return Score(value, reason, metrics)

