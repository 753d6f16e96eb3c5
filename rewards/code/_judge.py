"""Deciding each test's verdict from what the sandbox observed, here, outside the program."""

from __future__ import annotations

import errno
import json
import math
from dataclasses import dataclass
from typing import Any

from rewardkit.sandbox import TestRun, Verdict
from rewardkit.sandbox import decode_value as decode

from ..common import shorten
from ._asserts import evaluate
from ._cases import CallCase, Case, ScriptCase, StdinCase

_DISK_FULL = {errno.EFBIG, errno.ENOSPC, errno.EDQUOT}


@dataclass(frozen=True)
class Judged:
    """One test's verdict and what it saw (for the reason)."""

    verdict: Verdict
    detail: str = ""


def _short(value: Any, limit: int = 83) -> str:
    return repr(shorten(value if isinstance(value, str) else repr(value), limit))


# ---------------------------------------------------------------- stdin/stdout

def _lines(text: str) -> list[str]:
    """Output as judges read it: trailing spaces and trailing blank lines do not count."""
    return [line.rstrip() for line in text.strip().splitlines()]


def _token_equal(got: str, expected: str, tolerance: float | None) -> bool:
    if got == expected:
        return True
    if tolerance is None:
        return False
    try:
        a, b = float(got), float(expected)
    except ValueError:
        return False
    return math.isclose(a, b, rel_tol=tolerance, abs_tol=tolerance)


def same_output(got: str, expected: str, tolerance: float | None = None) -> bool:
    got_lines, expected_lines = _lines(got), _lines(expected)
    if got_lines == expected_lines:
        return True
    if tolerance is None:
        return False
    got_tokens, expected_tokens = " ".join(got_lines).split(), " ".join(expected_lines).split()
    return len(got_tokens) == len(expected_tokens) and all(
        _token_equal(a, b, tolerance) for a, b in zip(got_tokens, expected_tokens, strict=True))


# ---------------------------------------------------------------- return values

def _canonical(value: Any) -> str:
    def plain(v: Any) -> Any:
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, (set, frozenset)):
            return sorted(_canonical(x) for x in v)
        if isinstance(v, dict):
            return {str(k): plain(x) for k, x in v.items()}
        return v
    return json.dumps(plain(value), sort_keys=True, default=repr)


def same_value(got: Any, expected: Any, tolerance: float | None = None) -> bool:
    """JSON-level equality of a returned value and an expected one (a tuple equals a list; a bool is not 1)."""
    if isinstance(got, bool) or isinstance(expected, bool):
        return type(got) is type(expected) and got == expected
    if isinstance(got, (int, float)) and isinstance(expected, (int, float)):
        if tolerance is not None:
            return math.isclose(got, expected, rel_tol=tolerance, abs_tol=tolerance)
        return got == expected
    if isinstance(got, (list, tuple)) and isinstance(expected, (list, tuple)):
        return len(got) == len(expected) and all(same_value(a, b, tolerance)
                                                 for a, b in zip(got, expected, strict=True))
    if isinstance(got, dict) and isinstance(expected, dict):
        got_keys = {str(k): v for k, v in got.items()}
        expected_keys = {str(k): v for k, v in expected.items()}
        return got_keys.keys() == expected_keys.keys() and all(
            same_value(got_keys[k], expected_keys[k], tolerance) for k in got_keys)
    if isinstance(got, (set, frozenset)) and isinstance(expected, (list, tuple, set, frozenset)):
        return sorted(map(_canonical, got)) == sorted(map(_canonical, expected))
    return type(got) is type(expected) and got == expected


# ---------------------------------------------------------------- verdicts

def _failure(run: TestRun) -> Judged | None:
    """The verdict on a test that did not run to its end, or None."""
    if run.status == "timeout":
        return Judged(Verdict.TIME_LIMIT, f"over the time limit ({run.seconds:.2f} s)" if run.seconds
                      else "not reached in the submission's time budget")
    if run.status == "output_limit":
        return Judged(Verdict.OUTPUT_LIMIT, "printed more than the output limit")
    if run.status == "lost":
        return Judged(Verdict.RUNTIME_ERROR, "the sandbox ended during this test")
    exception = run.exception
    if exception is not None:
        name = exception.get("exception")
        message = f"{name}: {exception.get('message', '')}"[:200]
        if name == "MemoryError":
            return Judged(Verdict.MEMORY_LIMIT, "MemoryError: over the memory limit")
        if exception.get("errno") in _DISK_FULL:
            return Judged(Verdict.OUTPUT_LIMIT, f"{message} (file size or disk limit)")
        return Judged(Verdict.RUNTIME_ERROR, message)
    if run.signal is not None:
        return Judged(Verdict.RUNTIME_ERROR, f"killed by {run.signal}")
    return None


def _stdin(case: StdinCase, run: TestRun, tolerance: float | None) -> Judged:
    if run.exit:
        return Judged(Verdict.RUNTIME_ERROR, f"exit status {run.exit}")
    if same_output(run.stdout, case.output, tolerance):
        return Judged(Verdict.PASSED)
    return Judged(Verdict.WRONG_ANSWER, f"expected {_short(case.output.strip())}, got {_short(run.stdout.strip())}")


def _value_frame(run: TestRun) -> dict[str, Any] | None:
    for frame in run.frames:
        if frame.get("call") is True:
            return frame
    return None


def _call(case: CallCase, run: TestRun, tolerance: float | None) -> Judged:
    frame = _value_frame(run)
    if frame is None:
        return Judged(Verdict.RUNTIME_ERROR, "exited before returning a value")
    if "unsupported" in frame:
        return Judged(Verdict.WRONG_ANSWER, f"returned a {frame['unsupported']}, not a plain value")
    got = decode(frame.get("value"))
    expected = case.expected
    if same_value(got, expected, tolerance):
        return Judged(Verdict.PASSED)
    # APPS/TACO wrap a function's expected result in a list.
    if isinstance(expected, list) and len(expected) == 1 and same_value(got, expected[0], tolerance):
        return Judged(Verdict.PASSED)
    return Judged(Verdict.WRONG_ANSWER, f"{case.fn}(...) returned {_short(got)}, expected {_short(expected)}")


def _script(case: ScriptCase, run: TestRun) -> Judged:
    plans = case.script.plans
    seen: set[int] = set()
    for frame in run.frames:
        index = frame.get("probe")
        if "unsupported" in frame:
            where = f"line {plans[index].line}: " if isinstance(index, int) and 0 <= index < len(plans) else ""
            return Judged(Verdict.WRONG_ANSWER, f"{where}the program gave a {frame['unsupported']}, not a plain value")
        if not isinstance(index, int) or not 0 <= index < len(plans):
            continue
        plan = plans[index]
        values = frame.get("values")
        if not isinstance(values, list) or len(values) != plan.slots:
            continue
        try:
            holds = bool(evaluate(plan.expression, [decode(v) for v in values]))
        except Exception as exc:  # the program's values do not support the comparison
            return Judged(Verdict.WRONG_ANSWER,
                          f"line {plan.line}: `{plan.text}` raised {type(exc).__name__}: {exc}"[:200])
        if not holds:
            return Judged(Verdict.WRONG_ANSWER, f"line {plan.line}: `{plan.text}` is false")
        seen.add(index)
    failure = _failure(run)
    if failure is not None:
        return failure
    if case.script.static_failures:
        return Judged(Verdict.WRONG_ANSWER, f"`{case.script.static_failures[0]}` is false as written")
    if not any(frame.get("done") is True for frame in run.frames) or len(seen) < len(plans):
        missing = sorted(set(range(len(plans))) - seen)
        where = f"; line {plans[missing[0]].line} never checked" if missing else ""
        return Judged(Verdict.RUNTIME_ERROR, f"the tests did not run to their end{where}")
    return Judged(Verdict.PASSED)


def judge(case: Case, run: TestRun, tolerance: float | None) -> Judged:
    # What the program wrote on its channel is hostile input: a value it forged too deep or malformed to
    # read is its failure (WRONG_ANSWER), never an error of the call, which would spare it the score.
    try:
        if isinstance(case, ScriptCase):
            return _script(case, run)
        failure = _failure(run)
        if failure is not None:
            return failure
        if isinstance(case, StdinCase):
            return _stdin(case, run, tolerance)
        return _call(case, run, tolerance)
    except (RecursionError, ValueError, TypeError, KeyError, AttributeError) as exc:
        return Judged(Verdict.WRONG_ANSWER, f"the program's values cannot be read ({type(exc).__name__})")


def syntax_error(message: str) -> Judged:
    return Judged(Verdict.SYNTAX_ERROR, message)
