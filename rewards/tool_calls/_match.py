"""Matching the model's tool calls against the expected ones.

Arguments compare by JSON type; parallel calls are an unordered multiset
matched by maximum bipartite matching (each expected call pairs with at most
one model call that equals it), so order never matters and a duplicate never
counts twice. When the match is not perfect, `diagnose` names the closest
failure as one of the categories below.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Literal, Mapping, Sequence

from ..common import shorten
from ._calls import Call

NO_TOOL_CALL = "NO_TOOL_CALL"
UNEXPECTED_TOOL = "UNEXPECTED_TOOL"
ARGUMENTS_DECODE_ERROR = "ARGUMENTS_DECODE_ERROR"
ARGUMENT_TYPE_DIFFERENT = "ARGUMENT_TYPE_DIFFERENT"
ARGUMENT_KEYS_DIFFERENT = "ARGUMENT_KEYS_DIFFERENT"
ARGUMENT_VALUE_DIFFERENT = "ARGUMENT_VALUE_DIFFERENT"
CALL_COUNT_DIFFERENT = "CALL_COUNT_DIFFERENT"
CATEGORIES = (NO_TOOL_CALL, UNEXPECTED_TOOL, ARGUMENTS_DECODE_ERROR, ARGUMENT_TYPE_DIFFERENT,
              ARGUMENT_KEYS_DIFFERENT, ARGUMENT_VALUE_DIFFERENT, CALL_COUNT_DIFFERENT)
# For one expected call, the model's same-name calls are ranked by how close they came.
_CLOSENESS = (ARGUMENT_VALUE_DIFFERENT, ARGUMENT_TYPE_DIFFERENT, ARGUMENT_KEYS_DIFFERENT, ARGUMENTS_DECODE_ERROR)

# How matched calls become a score (tool_call_match's `mode` option).
Mode = Literal["binary_strict", "fractional", "f1"]
MAX_COMPARED_CALLS = 256  # model calls compared against the gold; more still count as calls (bounds hostile input)
_MAX_DEPTH = 64
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Rules:
    """How argument values compare."""

    float_tolerance: float = 1e-6
    loose_strings: bool = False


@dataclass(frozen=True)
class Mismatch:
    category: str
    detail: str


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):  # before numbers: True is an int in Python, not in JSON
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _shown(value: Any, limit: int = 60) -> str:
    return shorten(json.dumps(value, ensure_ascii=False), limit)  # JSON spelling: true, null, "1"


def _same_number(expected: float, actual: float, tolerance: float) -> bool:
    if isinstance(expected, int) and isinstance(actual, int):
        return expected == actual
    try:
        return math.isclose(float(expected), float(actual), rel_tol=0.0, abs_tol=tolerance)
    except OverflowError:  # an int too large for a float: only an exact match counts
        return expected == actual


def _same_string(expected: str, actual: str, rules: Rules) -> bool:
    if rules.loose_strings:
        return _SPACES.sub(" ", expected).strip().casefold() == _SPACES.sub(" ", actual).strip().casefold()
    return expected == actual


def _keys(expected: Mapping[str, Any], actual: Mapping[str, Any], path: str,
          omittable: frozenset[str]) -> Mismatch | None:
    missing = [k for k in expected if k not in actual and k not in omittable]
    extra = [k for k in actual if k not in expected]
    if not missing and not extra:
        return None
    parts = ([f"missing {', '.join(map(repr, missing))}"] if missing else []) + \
            ([f"unexpected {', '.join(map(repr, extra))}"] if extra else [])
    return Mismatch(ARGUMENT_KEYS_DIFFERENT, f"{path}: {'; '.join(parts)}")


def compare(expected: Any, actual: Any, rules: Rules, path: str, depth: int = 0,
            omittable: frozenset[str] = frozenset()) -> Mismatch | None:
    """None when `actual` equals `expected` under `rules`, else the first difference."""
    if depth > _MAX_DEPTH:
        return Mismatch(ARGUMENT_VALUE_DIFFERENT, f"{path}: nested deeper than {_MAX_DEPTH} levels")
    kind = _kind(expected)
    if kind != _kind(actual):
        return Mismatch(ARGUMENT_TYPE_DIFFERENT,
                        f"{path}: expected {kind} {_shown(expected)}, got {_kind(actual)} {_shown(actual)}")
    if kind == "object":
        keys = _keys(expected, actual, path, omittable)
        if keys:
            return keys
        for key, value in expected.items():
            if key in actual:
                found = compare(value, actual[key], rules, f"{path}.{key}", depth + 1)
                if found:
                    return found
        return None
    if kind == "array":
        if len(expected) != len(actual):
            return Mismatch(ARGUMENT_VALUE_DIFFERENT, f"{path}: expected {len(expected)} items, got {len(actual)}")
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            found = compare(e, a, rules, f"{path}[{i}]", depth + 1)
            if found:
                return found
        return None
    same = (_same_number(expected, actual, rules.float_tolerance) if kind == "number"
            else _same_string(expected, actual, rules) if kind == "string" else expected == actual)
    return None if same else Mismatch(ARGUMENT_VALUE_DIFFERENT,
                                      f"{path}: expected {_shown(expected)}, got {_shown(actual)}")


def compare_call(expected: Call, actual: Call, rules: Rules) -> Mismatch | None:
    """None when the model's call is the expected call (the names must already be equal)."""
    if actual.arguments is None:
        return Mismatch(ARGUMENTS_DECODE_ERROR, f"{actual.raw_name}: {actual.decode_error}")
    return compare(expected.arguments, actual.arguments, rules, expected.name, omittable=expected.omittable)


# ---- matching ----------------------------------------------------------------------------------------

def maximum_matching(edges: Sequence[Sequence[int]], right_size: int) -> dict[int, int]:
    """A maximum bipartite matching: left index -> right index (Kuhn's augmenting paths)."""
    owner: list[int | None] = [None] * right_size

    def augment(left: int, seen: list[bool]) -> bool:
        for right in edges[left]:
            if not seen[right]:
                seen[right] = True
                current = owner[right]
                if current is None or augment(current, seen):
                    owner[right] = left
                    return True
        return False

    for left in range(len(edges)):
        augment(left, [False] * right_size)
    return {left: right for right, left in enumerate(owner) if left is not None}


@dataclass(frozen=True)
class MatchResult:
    expected: int
    called: int
    matched: int
    category: str | None
    detail: str


def match(expected: Sequence[Call], called: Sequence[Call], rules: Rules) -> MatchResult:
    compared = list(called[:MAX_COMPARED_CALLS])
    edges = [[j for j, c in enumerate(compared) if c.name == e.name and compare_call(e, c, rules) is None]
             for e in expected]
    pairs = maximum_matching(edges, len(compared))
    category, detail = diagnose(expected, called, compared, pairs, rules)
    return MatchResult(len(expected), len(called), len(pairs), category, detail)


def diagnose(expected: Sequence[Call], called: Sequence[Call], compared: Sequence[Call], pairs: Mapping[int, int],
             rules: Rules) -> tuple[str | None, str]:
    """The category and description of the closest failure; (None, ...) for a perfect match."""
    if expected and not called:
        return NO_TOOL_CALL, f"the model made no tool call; expected {', '.join(e.name for e in expected)}"
    used = set(pairs.values())
    spare = [c for j, c in enumerate(compared) if j not in used] + list(called[len(compared):])
    for i, e in enumerate(expected):
        if i in pairs:
            continue
        same_name = [c for c in spare if c.name == e.name]
        if same_name:
            found = [m for m in (compare_call(e, c, rules) for c in same_name) if m is not None]
            closest = min(found, key=lambda m: _CLOSENESS.index(m.category)) if found else None
            if closest is not None:
                return closest.category, closest.detail
        expected_names = {x.name for x in expected}
        junk = sorted({c.raw_name for c in spare if c.name not in expected_names})
        if junk:
            return UNEXPECTED_TOOL, f"expected a call of {e.name}; the model called {', '.join(junk)}"
        return CALL_COUNT_DIFFERENT, f"expected {sum(x.name == e.name for x in expected)} call(s) of {e.name}, " \
                                     f"got {sum(c.name == e.name for c in called)}"
    if spare:
        expected_names = {e.name for e in expected}
        junk = sorted({c.raw_name for c in spare if c.name not in expected_names})
        if junk:
            return UNEXPECTED_TOOL, f"all {len(expected)} expected call(s) matched, plus call(s) of {', '.join(junk)}"
        return CALL_COUNT_DIFFERENT, f"all {len(expected)} expected call(s) matched, plus {len(spare)} repeated call(s)"
    return None, f"all {len(expected)} expected call(s) matched" if expected else "no call expected and none made"


def score(result: MatchResult, mode: str) -> float:
    n, m, k = result.expected, result.called, result.matched
    if mode == "binary_strict":
        return 1.0 if k == n == m else 0.0
    if mode == "fractional":
        return k / n if n else (1.0 if m == 0 else 0.0)
    return 2 * k / (n + m) if n + m else 1.0
