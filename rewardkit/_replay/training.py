"""Training-data mode: the requests a tuning job would send, built from its dataset and the model's responses.

A reinforcement-tuning JSONL (a line of any registered contract's dataset
format, recognised by its key: see `Contract.dataset_key`) plus the model's
responses becomes the requests the platform would send to the reward during a
job, so `rewardkit replay` can score them before the job runs. Responses come
from a second JSONL (one line per non-blank training line: a JSON string,
`{"response": "..."}`, `{"responses": [...]}` for several samples of one
prompt, optionally with `"thinking"`), or from a field of the training lines
themselves.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Iterator

from .._errors import RewardkitError
from ..contracts import Contract, Response, get, registered
from .datasets import line_problems
from .fixtures import Expectation, FixtureCase


class TrainingDataError(RewardkitError):
    """The training data or the responses cannot be turned into requests; the message names file and line."""


# ---- training data -> requests ---------------------------------------------------

def _json_lines(path: Path, what: str) -> Iterator[tuple[int, Any]]:
    """(line number, value) for each non-blank line; blank lines still count, as in an editor."""
    for number, _text, value in json_text_lines(path, what):
        yield number, value


def json_text_lines(path: Path, what: str) -> Iterator[tuple[int, str, Any]]:
    """(line number, text, value) for each non-blank line."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise TrainingDataError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise TrainingDataError(f"{path}: the {what} is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield number, line, json.loads(line)
        except ValueError as exc:
            raise TrainingDataError(f"{path}:{number}: not valid JSON: {exc}") from None


def _text_list(value: Any, where: str, what: str) -> list[str]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(item, str) for item in items):
        raise TrainingDataError(f"{where}: {what} must be a string or a non-empty list of strings, "
                                f"got {json.dumps(value, ensure_ascii=False)[:80]}")
    return items


def _responses_from(value: Any, where: str) -> list[Response]:
    """A responses-file line: "text", ["a", "b"], {"response": ...}, {"responses": [...]}, with optional thinking."""
    thinking: Any = None
    if isinstance(value, dict):
        keys = [k for k in ("response", "responses") if k in value]
        if len(keys) != 1:
            raise TrainingDataError(f"{where}: expected a JSON string, a list of strings, or an object with "
                                    f"'response' (or 'responses'); keys: {', '.join(sorted(value)) or '(none)'}")
        thinking = value.get("thinking", value.get("thinkings"))
        value = value[keys[0]]
    texts = _text_list(value, where, "the response")
    if thinking is None:
        thinkings: list[str | None] = [None] * len(texts)
    else:
        thinkings = list(_text_list(thinking, where, "'thinking'"))
        if len(thinkings) != len(texts):
            raise TrainingDataError(f"{where}: {len(texts)} responses but {len(thinkings)} thinkings")
    return [Response(text, thinking) for text, thinking in zip(texts, thinkings, strict=True)]


def _pop_field(line: dict[str, Any], dotted: str, where: str) -> Any:
    """Remove and return `line[a][b]` for "a.b", so the response does not also reach the reward as data."""
    *parents, last = dotted.split(".")
    holder: Any = line
    for key in parents:
        holder = holder.get(key) if isinstance(holder, dict) else None
    if not isinstance(holder, dict) or last not in holder:
        raise TrainingDataError(f"{where}: no field {dotted!r} holding the response")
    return holder.pop(last)


def dataset_contracts() -> tuple[Contract, ...]:
    """The registered contracts that have a training-data line format."""
    return tuple(c for c in registered() if c.dataset_key)


def detect_format(line: Any, where: str, fmt: str | None = None) -> Contract:
    """The contract whose dataset a line belongs to (or check it against the one named `fmt`)."""
    if not isinstance(line, dict):
        raise TrainingDataError(f"{where}: a dataset line must be a JSON object, got {type(line).__name__}")
    keys = ", ".join(sorted(line)) or "(none)"
    if fmt is not None:
        contract = get(fmt)
        if contract.dataset_key not in line:
            raise TrainingDataError(f"{where}: not a {fmt} dataset line: it has no {contract.dataset_key!r} "
                                    f"(keys: {keys})")
        return contract
    for contract in dataset_contracts():
        if contract.dataset_key in line:
            return contract
    expected = "; ".join(f"a {c.name} line needs {c.dataset_key!r}" for c in dataset_contracts())
    raise TrainingDataError(f"{where}: not a dataset line of any platform ({expected}); keys: {keys}")


SHOWN_PROBLEMS = 3


def dataset_line(path: Path, number: int, text: str, line: Any, fmt: str | None = None) -> Contract:
    """The contract of a dataset line, once the line is checked as `rewardkit validate-data` checks it.

    A line its platform would refuse (a field missing, misnamed or of the wrong type) is refused here,
    naming the line and the field: read anyway, it would be scored as if the field were empty."""
    where = f"{path}:{number}"
    contract = detect_format(line, where, fmt)
    problems = line_problems(number, text, contract.name)
    if problems:
        shown = "; ".join(f"{p.path}: {p.message}" for p in problems[:SHOWN_PROBLEMS])
        more = f" (and {len(problems) - SHOWN_PROBLEMS} more)" if len(problems) > SHOWN_PROBLEMS else ""
        raise TrainingDataError(f"{where}: not a valid {contract.name} dataset line: {shown}{more}. It is not "
                                f"scored; check the whole file with `rewardkit validate-data {path} --platform "
                                f"{contract.name}`")
    return contract


def training_cases(training: str | Path, *, responses: str | Path | None = None, response_field: str | None = None,
                   fmt: str | None = None) -> list[FixtureCase]:
    """The requests a tuning job would send for each training line and its response(s).

    Give exactly one of `responses` (a JSONL file, one line per non-blank
    training line) and `response_field` (a field of each training line, dotted
    for a nested one: "rollout_extra.response"; it is removed from the request).
    `fmt` (a contract name) forces the dataset format; by default each line's is
    recognised by its key. Several responses for one line become the requests
    the platform sends for them (one each, or one group).
    """
    if (responses is None) == (response_field is None):
        raise TrainingDataError("give the model responses either as a file (--responses) "
                                "or as a field of the training lines (--response-field), not both")
    path = Path(training)
    lines = list(json_text_lines(path, "training data"))
    if not lines:
        raise TrainingDataError(f"{path}: the training data has no lines")
    answers: list[list[Response]] = []
    if responses is not None:
        answer_path = Path(responses)
        answers = [_responses_from(value, f"{answer_path}:{n}") for n, value in _json_lines(answer_path, "responses")]
        if len(answers) != len(lines):
            raise TrainingDataError(f"{answer_path} has {len(answers)} responses for the {len(lines)} lines of {path}: "
                                    "give one line of responses per non-blank training line, in the same order")
    cases = []
    for index, (number, text, line) in enumerate(lines):
        where = f"{path}:{number}"
        line_format = dataset_line(path, number, text, line, fmt)
        line = copy.deepcopy(line)
        if response_field is not None:
            answer = _responses_from({"response": _pop_field(line, response_field, where)}, where)
        else:
            answer = answers[index]
        built = line_format.requests(line_format.read_line(line), answer)
        for k, body in enumerate(built):
            name = f"{path.name}:{number}" + (f"#{k}" if len(built) > 1 else "")
            cases.append(FixtureCase(name, None, line_format.name, body, Expectation(), where))
    return cases
