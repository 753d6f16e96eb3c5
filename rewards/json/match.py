"""`json_match`: key/value agreement of the response's JSON object with a gold object."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any, Iterator, Mapping, Sequence

from annotated_types import Ge, MinLen

from rewardkit import MissingReferenceError, ParseError, Score, reward

from .reading import _shown, read_json


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


@reward(metrics=["matched", "total"])
def json_match(
    response: str,
    references: Mapping[str, Any],
    reference: Any = None,
    keys: Annotated[Sequence[str], MinLen(1)] | None = None,
    nested: bool = False,
    tolerance: Annotated[float, Ge(0)] = 0.0,
    ignore_case: bool = False,
    extract: bool = True,
    reference_key: Annotated[str, MinLen(1)] | None = None,
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
