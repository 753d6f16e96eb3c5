"""JSON rewards: `json_schema` (the response validates against a JSON Schema) and `json_match` (key/value agreement)."""

from __future__ import annotations

import functools
import json
import math
import re
from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Sequence

from rewardkit import MissingReferenceError, ParseError, Score, parsers, reward

from ..common import strip_code_blocks, strip_thinking
from ..common.options import OptionError

SCHEMA_MODES = ("binary", "keys")
_MAX_ERRORS = 1000  # errors counted per response: bounds the work on a huge, wrong document
_MAX_SHOWN = 200
_JSON = parsers.json()
# Prose around an extracted JSON value: a sentence is fine, a page is padding that hides where the answer is.
MAX_PROSE_CHARS = 300
_NEGATED = re.compile(r"\b(?:not|isn't|never|no)\b\W*$", re.I)


def _shown(text: str, limit: int = _MAX_SHOWN) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def read_json(response: str, extract: bool) -> Any:
    """The JSON value of the response; ParseError with the reason when there is none.

    With `extract` the value may be the whole response, the last ```json
    fenced block or the outermost {...}/[...] (rewardkit.parsers.json()),
    after removing <think> blocks (reasoning never counts); a value buried in
    more than MAX_PROSE_CHARS of other text, or right after a negation ("the
    answer is not {...}"), is refused. Without it the whole response must be JSON.
    """
    if extract:
        text = strip_thinking(response)
        value = _JSON(text)
        _check_prose(text)
        return value
    if not response.strip():
        raise ParseError("empty response")
    try:
        return json.loads(response)
    except ValueError as exc:
        raise ParseError(f"the response is not JSON ({exc})") from None
    except RecursionError:
        raise ParseError("the response is not JSON (it is nested too deeply)") from None


def _check_prose(text: str) -> None:
    """Refuse an extracted value that the text around it buries (padding) or negates (audit probes do both)."""
    outside = strip_code_blocks(text)
    first = min((i for i in (outside.find("{"), outside.find("[")) if i >= 0), default=-1)
    last = max(outside.rfind("}"), outside.rfind("]"))
    before, after = (outside[:first], outside[last + 1:]) if 0 <= first < last else (outside, "")
    prose = len(before.strip()) + len(after.strip())
    if prose > MAX_PROSE_CHARS:
        raise ParseError(f"the JSON is buried in {prose} characters of other text (at most {MAX_PROSE_CHARS})")
    if _NEGATED.search(before):
        raise ParseError(f"the JSON follows a negation: {_shown(before.strip()[-60:])!r}")


# ---- json_schema ---------------------------------------------------------------------------------

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


def _check_schema_options(schema: Any = None, schema_key: Any = "schema", mode: Any = "binary",
                          extract: Any = True, check_formats: Any = False) -> None:
    """Check json_schema's options; OptionError names the first bad one."""
    if mode not in SCHEMA_MODES:
        raise OptionError(f"mode must be one of {', '.join(map(repr, SCHEMA_MODES))}, got {mode!r}")
    if schema is None:
        if not isinstance(schema_key, str) or not schema_key:
            raise OptionError(f"schema_key must be a non-empty string when schema is not set, got {schema_key!r}")
        return
    schema_validator(_load_schema(schema, "schema"), bool(check_formats))


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
    schema_key: str = "schema",
    mode: str = "binary",
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
    if mode not in SCHEMA_MODES:
        raise OptionError(f"json_schema: mode must be one of {', '.join(map(repr, SCHEMA_MODES))}, got {mode!r}")
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


# ---- json_match ----------------------------------------------------------------------------------

def _check_match_options(keys: Any = None, nested: Any = False, tolerance: Any = 0.0, ignore_case: Any = False,
                         extract: Any = True, reference_key: Any = None) -> None:
    """Check json_match's options; OptionError names the first bad one."""
    if keys is not None:
        if isinstance(keys, str) or not isinstance(keys, Sequence) or not keys:
            raise OptionError(f"keys must be a non-empty list of key names, got {keys!r}")
        if not all(isinstance(k, str) for k in keys):
            raise OptionError(f"keys must be strings, got {keys!r}")
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or not math.isfinite(tolerance) \
            or tolerance < 0:
        raise OptionError(f"tolerance must be a number >= 0, got {tolerance!r}")
    if reference_key is not None and (not isinstance(reference_key, str) or not reference_key):
        raise OptionError(f"reference_key must be a non-empty string, got {reference_key!r}")


def _gold_object(reference: Any, references: Mapping[str, Any], reference_key: str | None) -> dict[str, Any]:
    if reference_key is not None:
        gold = references.get(reference_key)
        if gold is None:
            raise MissingReferenceError(f"json_match: the request has no reference {reference_key!r}")
    else:
        if reference is None:  # needed only when reference_key does not name where the gold object is
            raise MissingReferenceError("json_match: no gold answer in the request (and no reference_key option)")
        gold = reference
    if isinstance(gold, str):
        try:
            gold = json.loads(gold)
        except ValueError as exc:
            raise ValueError(f"json_match: the gold answer is not JSON ({exc}): {_shown(gold, 80)!r}") from None
    if not isinstance(gold, dict):
        raise ValueError(f"json_match: the gold answer must be a JSON object, got {type(gold).__name__}")
    return gold


@dataclass(frozen=True)
class _Compare:
    tolerance: float
    ignore_case: bool

    def equal(self, expected: Any, got: Any) -> bool:
        if isinstance(expected, bool) or isinstance(got, bool):
            return isinstance(expected, bool) and isinstance(got, bool) and expected == got
        if isinstance(expected, (int, float)) and isinstance(got, (int, float)):
            return abs(expected - got) <= self.tolerance if self.tolerance else expected == got
        if isinstance(expected, str) and isinstance(got, str):
            return expected.casefold() == got.casefold() if self.ignore_case else expected == got
        if isinstance(expected, dict) and isinstance(got, dict):
            return expected.keys() == got.keys() and all(self.equal(v, got[k]) for k, v in expected.items())
        if isinstance(expected, list) and isinstance(got, list):
            return len(expected) == len(got) and all(self.equal(a, b) for a, b in zip(expected, got, strict=True))
        return expected is None and got is None


_MISSING = object()


def _leaves(value: Any, path: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """(path, value) for every leaf; an empty object or list is a leaf."""
    if isinstance(value, dict) and value:
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            yield from _leaves(item, (*path, index))
    else:
        yield path, value


def _lookup(document: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        if isinstance(step, int) and isinstance(document, list) and step < len(document):
            document = document[step]
        elif isinstance(step, str) and isinstance(document, dict) and step in document:
            document = document[step]
        else:
            return _MISSING
    return document


def _path_text(path: tuple[Any, ...]) -> str:
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else str(step))
    return text


def _value_text(value: Any) -> str:
    return "(missing)" if value is _MISSING else _shown(json.dumps(value, ensure_ascii=False), 40)


@reward(check_options=_check_match_options, metrics=["matched", "total"])
def json_match(
    response: str,
    references: Mapping[str, Any],
    reference: Any = None,
    keys: Sequence[str] | None = None,
    nested: bool = False,
    tolerance: float = 0.0,
    ignore_case: bool = False,
    extract: bool = True,
    reference_key: str | None = None,
) -> Score:
    """Fraction of the gold JSON object's keys whose value the response's JSON object matches.

    Gold: a JSON object (or its JSON text) in DashScope `ground_truth`, else
    references answer/solution/... (or `reference_key`). Keys the response
    has and the gold does not are ignored; a missing key is a mismatch. A
    response with no JSON object scores 0 with the reason. Values match by
    type: numbers within `tolerance` (true/false are not numbers), strings
    exactly (or case-insensitively), null only null, objects and lists
    entirely.

    Parameters:
        keys: the gold keys to compare (default None: all of them); a key the
            gold lacks is an error.
        nested: compare leaves instead of whole values: nested objects and
            lists are walked (paths "a.b", "a.items[0]") and each leaf counts
            once (default False: each top-level value counts once, all or nothing).
        tolerance: absolute tolerance for numbers (default 0.0: equal).
        ignore_case: compare strings case-insensitively (default False).
        extract: find the JSON in the response (```json block, outermost
            {...}; never inside <think>, after a negation or amid more than 300
            characters of prose) rather than requiring the whole response to be JSON (default True).
        reference_key: read the gold object from this references key instead
            of the gold answer (default None).
    """
    gold = _gold_object(reference, references, reference_key)
    selected = list(keys) if keys is not None else list(gold)
    unknown = [k for k in selected if k not in gold]
    if unknown:
        raise KeyError(f"json_match: key(s) {', '.join(map(repr, unknown))} are not in the gold object "
                       f"(its keys: {', '.join(map(repr, gold)) or '(none)'})")
    if nested:
        pairs = [leaf for key in selected for leaf in _leaves(gold[key], (key,))]
    else:
        pairs = [((key,), gold[key]) for key in selected]
    if not pairs:
        raise ValueError("json_match: the gold object has no keys to compare")
    try:
        document = read_json(response, extract)
    except ParseError as exc:
        return Score(0.0, f"not JSON: {exc}", {"matched": 0.0, "total": float(len(pairs))})
    if not isinstance(document, dict):
        return Score(0.0, f"the response JSON is a {type(document).__name__}, not an object",
                     {"matched": 0.0, "total": float(len(pairs))})
    compare = _Compare(float(tolerance), ignore_case)
    mismatched = []
    for path, expected in pairs:
        got = _lookup(document, path)
        if got is _MISSING or not compare.equal(expected, got):
            mismatched.append(f"{_path_text(path)} (expected {_value_text(expected)}, got {_value_text(got)})")
    matched = len(pairs) - len(mismatched)
    metrics = {"matched": float(matched), "total": float(len(pairs))}
    what = "leaves" if nested else "keys"
    if not mismatched:
        return Score(1.0, f"all {len(pairs)} {what} match", metrics)
    shown = "; ".join(mismatched[:3]) + (f"; and {len(mismatched) - 3} more" if len(mismatched) > 3 else "")
    return Score(matched / len(pairs), f"{matched}/{len(pairs)} {what} match; mismatched: {shown}", metrics)
