"""Check a reinforcement-tuning JSONL dataset against a platform's line format.

`validate_dataset` reads the file line by line and reports every problem of
every line: lines that are not JSON objects, and every JSON Schema error, each
with its line number, the JSON path of the offending value and a message that
says what was expected. Each contract ships its schema (`Contract.dataset_schema`,
in ``rewardkit/contracts/schemas/`` for the built-in ones), which records in its
``description`` which platform documents each rule comes from.
"""

from __future__ import annotations

import codecs
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from .._errors import RewardkitError
from ..contracts import Contract, registered

if TYPE_CHECKING:  # jsonschema is imported lazily: `import rewardkit` stays fast
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

LINE_PATH = "(line)"
"""`DatasetProblem.path` of a problem with the line as a whole."""
FILE_PATH = "(file)"
"""`DatasetProblem.path` of a problem with the file as a whole (reported as line 0)."""

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_MAX_VALUE_CHARS = 40


class DatasetError(RewardkitError):
    """The dataset could not be checked at all (as opposed to a bad line)."""


class UnknownDatasetFormatError(DatasetError, ValueError):
    def __init__(self, fmt: object) -> None:
        super().__init__(
            f"unknown dataset format {fmt!r}; use one of: {', '.join(formats())}"
        )


class DatasetReadError(DatasetError, OSError):
    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"cannot read dataset {str(path)!r}: {reason}")


@dataclass(frozen=True)
class DatasetProblem:
    line: int  # 1-based; 0 for a problem with the whole file
    path: str  # JSON path like "contents[0].parts[1].text", or "(line)" / "(file)"
    message: str


@dataclass(frozen=True)
class DatasetReport:
    path: str
    format: str
    lines: int  # non-blank lines checked, one example each
    problems: tuple[DatasetProblem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def formats() -> list[str]:
    """The names of the registered contracts that document a training-data line format."""
    return [c.name for c in registered() if c.dataset_schema]


def validate_dataset(path: str | Path, fmt: str) -> DatasetReport:
    """Check every line of the JSONL file at `path` against the `fmt` line format.

    Blank lines are skipped but still counted, so line numbers match an editor's.
    Raises `UnknownDatasetFormatError` for an unknown `fmt` and
    `DatasetReadError` when the file cannot be opened.
    """
    contract = next((c for c in registered() if c.name == fmt and c.dataset_schema), None)
    if contract is None:
        raise UnknownDatasetFormatError(fmt)
    validator = _validator(fmt)
    strict_json = contract.dataset_strict_json
    file_path = Path(path)
    problems: list[DatasetProblem] = []
    examples = 0
    for number, raw in _read_lines(file_path):
        if not raw.strip():
            continue
        examples += 1
        problems.extend(_check_line(number, raw, validator, strict_json, contract))
    if examples == 0:
        problems.append(
            DatasetProblem(0, FILE_PATH, "the dataset has no examples (the file is empty or blank)")
        )
    return DatasetReport(str(path), fmt, examples, tuple(problems))


def line_problems(number: int, text: str, fmt: str) -> list[DatasetProblem]:
    """What `validate_dataset` reports for one line (its text, numbered `number`) of a `fmt` dataset.

    Replay and audit read their lines through this, so a line `validate-data` refuses is never scored
    (a Vertex content with "text" where "parts" belongs would otherwise read as an empty prompt).
    A format without a schema has nothing to check: []."""
    contract = next((c for c in registered() if c.name == fmt and c.dataset_schema), None)
    if contract is None:
        return []
    return _check_line(number, text.encode("utf-8"), _validator(fmt), contract.dataset_strict_json, contract)


def format_report(report: DatasetReport, max_problems: int = 50) -> str:
    """Render `report` for a terminal: a summary line, then up to `max_problems` problems.

    Problems are written as ``FILE:LINE: PATH: MESSAGE`` so editors and CI
    problem matchers can jump to them.
    """
    if max_problems < 0:
        raise ValueError(f"max_problems must be 0 or more, got {max_problems}")
    if report.ok:
        return f"{report.path}: OK, {_plural(report.lines, 'line')} match the {report.format} dataset format"
    out = [
        f"{report.path}: {_plural(len(report.problems), 'problem')} in "
        f"{_plural(report.lines, 'line')} ({report.format} dataset format)"
    ]
    for problem in report.problems[:max_problems]:
        where = f"{report.path}:{problem.line}" if problem.line else report.path
        out.append(f"{where}: {problem.path}: {problem.message}")
    hidden = len(report.problems) - max_problems
    if hidden > 0:
        out.append(f"... and {_plural(hidden, 'more problem')} not shown")
    return "\n".join(out)


# -- reading -----------------------------------------------------------------


def _read_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """Yield (1-based number, raw line without its end of line) for each line."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise DatasetReadError(path, exc.strerror or str(exc)) from exc
    with handle:
        for number, raw in enumerate(handle, start=1):
            yield number, raw.rstrip(b"\r\n")


def _check_line(
    number: int, raw: bytes, validator: Draft202012Validator, strict_json: bool, contract: Contract | None = None
) -> list[DatasetProblem]:
    problems: list[DatasetProblem] = []
    if number == 1 and raw.startswith(codecs.BOM_UTF8):
        problems.append(
            DatasetProblem(number, LINE_PATH,
                           "the file starts with a UTF-8 byte order mark; save it as UTF-8 without BOM")
        )
        raw = raw[len(codecs.BOM_UTF8):]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        problems.append(
            DatasetProblem(number, LINE_PATH, f"not valid UTF-8 (byte {exc.start + 1}); save the file as UTF-8")
        )
        return problems
    duplicates: list[tuple[dict[str, Any], str]] = []
    try:
        value = _parse(text, strict_json, duplicates)
    except ValueError as exc:
        problems.append(DatasetProblem(number, LINE_PATH, f"not valid JSON: {_json_error(exc)}"))
        return problems
    if not isinstance(value, dict):
        problems.append(
            DatasetProblem(number, LINE_PATH, f"expected a JSON object, got {_describe(value)}")
        )
        return problems
    if duplicates:
        problems.extend(_duplicate_problems(number, value, duplicates))
    problems.extend(_schema_problems(number, value, validator))
    if not problems and contract is not None:  # a line in the right shape: its media parts by the platform's rules
        problems.extend(DatasetProblem(number, where, message) for where, message in contract.media_problems(value))
    return problems


class _NotJSONConstant(ValueError):
    pass


def _parse(text: str, strict: bool, duplicates: list[tuple[dict[str, Any], str]]) -> Any:
    if not strict:
        return json.loads(text)

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        obj: dict[str, Any] = {}
        for key, item in items:
            if key in obj:
                duplicates.append((obj, key))
            obj[key] = item
        return obj

    def constant(name: str) -> Any:
        raise _NotJSONConstant(f"{name} is not a JSON number; write it as a string or leave the field out")

    return json.loads(text, object_pairs_hook=pairs, parse_constant=constant)


def _json_error(exc: ValueError) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at column {exc.colno}"
    return str(exc)


def _duplicate_problems(
    number: int, root: dict[str, Any], duplicates: list[tuple[dict[str, Any], str]]
) -> Iterator[DatasetProblem]:
    # The parse hook only knows the object, so find where each object sits.
    locations = {id(obj): where for where, obj in _walk_objects(root, ())}
    for obj, key in duplicates:
        where = locations.get(id(obj), ())
        yield DatasetProblem(
            number,
            _format_path((*where, key)),
            f"duplicate key {json.dumps(key)}; ProtoJSON parsers reject an object that repeats a key",
        )


def _walk_objects(value: Any, where: tuple[str | int, ...]) -> Iterator[tuple[tuple[str | int, ...], dict[str, Any]]]:
    if isinstance(value, dict):
        yield where, value
        for key, item in value.items():
            yield from _walk_objects(item, (*where, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk_objects(item, (*where, index))


# -- schema errors -----------------------------------------------------------


@lru_cache(maxsize=None)
def _validator(fmt: str) -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    from ..contracts import get

    schema = get(fmt).dataset_json_schema()
    if schema is None:
        raise UnknownDatasetFormatError(fmt)
    return Draft202012Validator(schema)


def _schema_problems(
    number: int, value: dict[str, Any], validator: Draft202012Validator
) -> list[DatasetProblem]:
    found: dict[tuple[tuple[tuple[int, Any], ...], str, str], DatasetProblem] = {}
    for error in validator.iter_errors(value):
        for where, message in _explain(error):
            key = (_sort_key(where), _format_path(where), message)
            found.setdefault(key, DatasetProblem(number, key[1], message))
    return [found[key] for key in sorted(found, key=lambda k: (k[0], k[2]))]


def _explain(error: ValidationError) -> Iterable[tuple[tuple[str | int, ...], str]]:
    """Turn one jsonschema error into (path, message) pairs a person can act on."""
    where = tuple(error.absolute_path)
    wanted_value: Any = error.validator_value  # Unset only on a ValidationError built by hand
    schema = error.schema if isinstance(error.schema, dict) else {}
    custom = schema.get("x-message")
    if custom:
        return [(where, custom)]
    if error.validator == "required":
        return [
            ((*where, name), _missing_message(name, schema))
            for name in _missing_names(error)
        ]
    expected = schema.get("x-expected")
    if error.validator == "type":
        wanted = expected or _type_names(wanted_value)
        return [(where, f"expected {wanted}, got {_describe(error.instance)}")]
    if error.validator == "enum":
        wanted = expected or "one of " + ", ".join(json.dumps(v) for v in wanted_value)
        return [(where, f"expected {wanted}, got {_describe(error.instance)}")]
    if error.validator in ("minItems", "minLength", "pattern") and expected:
        return [(where, f"expected {expected}, got {_describe(error.instance)}")]
    if error.validator == "const":
        return [(where, f"expected {json.dumps(wanted_value)}, got {_describe(error.instance)}")]
    return [(where, error.message)]


def _missing_names(error: ValidationError) -> list[str]:
    # jsonschema raises one error per missing name; its message is the only
    # place that says which one.
    instance = error.instance if isinstance(error.instance, dict) else {}
    names: Any = error.validator_value  # the schema's "required" list
    return [
        name
        for name in names
        if name not in instance and error.message == f"{name!r} is a required property"
    ]


def _missing_message(name: str, schema: dict[str, Any]) -> str:
    prop = schema.get("properties", {}).get(name)
    expected = prop.get("x-expected") if isinstance(prop, dict) else None
    message = f"missing required field {json.dumps(name)}"
    return f"{message}; expected {expected}" if expected else message


def _type_names(types: str | list[str]) -> str:
    names = {
        "object": "an object",
        "array": "an array",
        "string": "a string",
        "number": "a number",
        "integer": "an integer",
        "boolean": "true or false",
        "null": "null",
    }
    listed = [types] if isinstance(types, str) else list(types)
    return " or ".join(names.get(t, t) for t in listed)


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {json.dumps(value)}"
    if isinstance(value, dict):
        return "an object" if value else "an empty object"
    if isinstance(value, list):
        return f"an array of {_plural(len(value), 'item')}" if value else "an empty array"
    if isinstance(value, str):
        if not value:
            return "an empty string"
        shown = json.dumps(value, ensure_ascii=False)
        if len(shown) > _MAX_VALUE_CHARS:
            shown = shown[: _MAX_VALUE_CHARS - 4] + '..."'
        return f"the string {shown}"
    return f"the number {value!r}"


def _format_path(where: Iterable[str | int]) -> str:
    out = ""
    for part in where:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _IDENTIFIER.match(part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part, ensure_ascii=False)}]"
    return out or LINE_PATH


def _sort_key(where: Iterable[str | int]) -> tuple[tuple[int, Any], ...]:
    # Mixed int/str paths: numbers sort numerically (contents[2] before contents[10]).
    return tuple((0, p) if isinstance(p, int) else (1, p) for p in where)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
