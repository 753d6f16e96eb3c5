"""Test cases from the request, in every shape the common code datasets use.

Accepted (as a JSON value or a JSON-encoded string; Vertex references are strings):

- a list of {"input": ..., "output": ...}            stdin/stdout (LiveCodeBench adds "testtype")
- {"inputs": [...], "outputs": [...]}                APPS/TACO; with "fn_name", function cases
- {"input_output": "<JSON of the above>"}            APPS as distributed
- {"fn_name": "f", "cases": [{"args": [...], "expected": ...}]}   function cases
- {"test": "def check(candidate): ...", "entry_point": "f"}       HumanEval
- {"test_list": ["assert f(1) == 2", ...]} or a list of assert strings   MBPP (each string one test)
- {"test": "assert f(1) == 2\\n..."}                  one assertion script
- {"public_test_cases": ..., "private_test_cases": ...}  LiveCodeBench (functional ones read func_name
                                                      from "fn_name", "func_name" or "metadata")
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping, Sequence, Union

from rewardkit import InvalidReferenceError, MissingReferenceError

from ._asserts import AssertionScriptError, SplitScript, split


class InvalidTestsError(InvalidReferenceError):
    """The request's test cases cannot be read, or an expected value cannot be evaluated: a dataset bug,
    the call fails with INVALID_REFERENCE naming the test, never a score."""


@dataclass(frozen=True)
class StdinCase:
    input: str
    output: str


@dataclass(frozen=True)
class CallCase:
    fn: str
    args: tuple[Any, ...]
    expected: Any


@dataclass(frozen=True)
class ScriptCase:
    script: SplitScript
    entry_point: str | None


Case = Union[StdinCase, CallCase, ScriptCase]
STYLES = {"stdin": StdinCase, "function": CallCase, "assert": ScriptCase}


def _json(value: Any, where: str) -> Any:
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not text or text[0] not in "[{":
        return value
    try:
        return json.loads(text)
    except ValueError as exc:
        raise InvalidTestsError(f"{where}: not valid JSON ({exc})") from None


def _text(value: Any, where: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "\n".join(value) + "\n"  # TACO sometimes stores an input as its lines
    raise InvalidTestsError(f"{where}: expected text, got {type(value).__name__}")


def _script(source: Any, where: str, entry_point: str | None = None, setup: str = "") -> ScriptCase:
    if not isinstance(source, str) or not source.strip():
        raise InvalidTestsError(f"{where}: expected an assertion script (text)")
    try:
        return ScriptCase(split(f"{setup}\n{source}" if setup else source), entry_point)
    except AssertionScriptError as exc:
        raise InvalidTestsError(f"{where}: {exc}") from None


def _fn_name(data: Mapping[str, Any]) -> str | None:
    for key in ("fn_name", "func_name", "entry_point"):
        if isinstance(data.get(key), str) and data[key]:
            return data[key]
    metadata = _json(data.get("metadata"), "metadata")
    if isinstance(metadata, Mapping):
        return _fn_name(metadata)
    return None


def _functional(item: Mapping[str, Any], fn: str | None, where: str) -> CallCase:
    """LiveCodeBench functional: `input` holds one JSON argument per line, `output` the JSON result."""
    if not fn:
        raise InvalidTestsError(
            f"{where}: a functional test needs the function's name (fn_name / func_name / metadata)")
    try:
        args = tuple(json.loads(line) for line in _text(item["input"], where).splitlines() if line.strip())
        expected = json.loads(_text(item["output"], where))
    except ValueError as exc:
        raise InvalidTestsError(f"{where}: functional input/output must be JSON ({exc})") from None
    return CallCase(fn, args, expected)


def _from_list(items: Sequence[Any], fn: str | None, where: str) -> list[Case]:
    cases: list[Case] = []
    for i, item in enumerate(items):
        here = f"{where}[{i}]"
        if isinstance(item, str):
            cases.append(_script(item, here))
        elif isinstance(item, Mapping) and "input" in item and "output" in item:
            if item.get("testtype") == "functional":
                cases.append(_functional(item, fn, here))
            else:
                cases.append(StdinCase(_text(item["input"], here), _text(item["output"], here)))
        elif isinstance(item, Mapping) and "args" in item and ("expected" in item or "output" in item):
            name = item.get("fn_name") or fn
            if not isinstance(name, str) or not name:
                raise InvalidTestsError(f"{here}: a function case needs fn_name")
            args = item["args"]
            if not isinstance(args, list):
                raise InvalidTestsError(f"{here}.args: expected a list of arguments")
            cases.append(CallCase(name, tuple(args), item["expected"] if "expected" in item else item["output"]))
        else:
            raise InvalidTestsError(f"{here}: not a test case; expected {{'input', 'output'}}, {{'args', 'expected'}} "
                                f"or an assertion string, got {str(item)[:80]!r}")
    return cases


def _apps(data: Mapping[str, Any], where: str) -> list[Case]:
    inputs, outputs = _json(data["inputs"], f"{where}.inputs"), _json(data["outputs"], f"{where}.outputs")
    if not isinstance(inputs, list) or not isinstance(outputs, list) or len(inputs) != len(outputs):
        raise InvalidTestsError(f"{where}: inputs and outputs must be lists of the same length")
    fn = _fn_name(data)
    if fn:
        return [CallCase(fn, tuple(a) if isinstance(a, list) else (a,), o)
                for a, o in zip(inputs, outputs, strict=True)]
    return [StdinCase(_text(i, f"{where}.inputs[{n}]"), _text(o, f"{where}.outputs[{n}]"))
            for n, (i, o) in enumerate(zip(inputs, outputs, strict=True))]


def _from_mapping(data: Mapping[str, Any], where: str) -> list[Case]:
    if "input_output" in data:
        inner = _json(data["input_output"], f"{where}.input_output")
        if not isinstance(inner, Mapping):
            raise InvalidTestsError(f"{where}.input_output: expected a JSON object with inputs and outputs")
        return _from_mapping({**{k: v for k, v in data.items() if k != "input_output"}, **inner}, where)
    if "inputs" in data and "outputs" in data:
        return _apps(data, where)
    if "cases" in data:
        cases = _json(data["cases"], f"{where}.cases")
        if not isinstance(cases, list):
            raise InvalidTestsError(f"{where}.cases: expected a list")
        return _from_list(cases, _fn_name(data), f"{where}.cases")
    if "public_test_cases" in data or "private_test_cases" in data:
        found: list[Any] = []
        for key in ("public_test_cases", "private_test_cases"):
            part = _json(data.get(key) or [], f"{where}.{key}")
            if not isinstance(part, list):
                raise InvalidTestsError(f"{where}.{key}: expected a list (or a JSON string of one)")
            found.extend(part)
        return _from_list(found, _fn_name(data), where)
    setup = "\n".join(s for s in (data.get("test_imports") and "\n".join(data["test_imports"]),
                                  data.get("test_setup_code")) if isinstance(s, str) and s.strip())
    if "test_list" in data:
        tests = _json(data["test_list"], f"{where}.test_list")
        if not isinstance(tests, list) or not tests:
            raise InvalidTestsError(f"{where}.test_list: expected a non-empty list of assert strings")
        return [_script(t, f"{where}.test_list[{i}]", setup=setup) for i, t in enumerate(tests)]
    if "test" in data:
        return [_script(data["test"], f"{where}.test", data.get("entry_point"), setup)]
    if "input" in data and "output" in data:
        return _from_list([data], _fn_name(data), where)
    raise InvalidTestsError(f"{where}: no test cases found; expected one of inputs/outputs, input_output, cases, "
                        "test (+entry_point), test_list, public_test_cases, or a list of cases")


def read_cases(value: Any, where: str) -> list[Case]:
    """Every test case in `value` (see the module docstring); InvalidTestsError names what is wrong."""
    data = _json(value, where)
    if isinstance(data, str):
        if "assert" in data:
            return [_script(data, where)]
        raise InvalidTestsError(f"{where}: expected JSON test cases or an assertion script, got {data[:80]!r}")
    if isinstance(data, list):
        cases = _from_list(data, None, where)
    elif isinstance(data, Mapping):
        cases = _from_mapping(data, where)
    else:
        raise InvalidTestsError(f"{where}: expected test cases, got {type(data).__name__}")
    if not cases:
        raise InvalidTestsError(f"{where}: the list of test cases is empty")
    return cases


_DATASET_KEYS = ("inputs", "input_output", "test", "test_list", "public_test_cases", "cases")


def find_cases(references: Mapping[str, Any], ground_truth: Any, key: str) -> list[Case]:
    """`references[key]` (Vertex references, DashScope rollout_extra), else DashScope `ground_truth`, else
    dataset fields spread over `references`.

    The named key comes first: a dataset may keep its reference solution in `ground_truth` and its tests
    in `rollout_extra.tests`. A blank `ground_truth` (None, "", spaces) is no ground truth.
    """
    if references.get(key) is not None:
        return read_cases(references[key], f"references.{key}")
    if isinstance(ground_truth, str) and not ground_truth.strip():
        ground_truth = None
    if ground_truth is not None:
        if (isinstance(ground_truth, Mapping) and key in ground_truth
                and not any(k in ground_truth for k in _DATASET_KEYS)):
            return read_cases(ground_truth[key], f"ground_truth.{key}")
        return read_cases(ground_truth, "ground_truth")
    if any(k in references for k in _DATASET_KEYS):
        return read_cases(dict(references), "references")
    raise MissingReferenceError(
        f"code_tests: no test cases in the request. Put them in Vertex `references.{key}` (a JSON-encoded string), "
        f"DashScope `ground_truth` or `rollout_extra.{key}`"
    )
