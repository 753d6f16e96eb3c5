"""Fixture files: recorded requests with the result they must produce.

A fixture file is `NAME.reward.json` (one record or a list) or
`NAME.reward.jsonl` (one record a line). A record:

    {"id": "boxed-72", "reward": "math_accuracy",
     "request": {...a body of any registered contract...},
     "expect": {"score": 1.0}}

`expect` holds one of: `score` (single), `scores` (group, in order),
`status` ("success" / "failed", or an HTTP status) and `error_code`;
`tolerance` (default 1e-6) applies to scores.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._errors import RewardkitError
from ..contracts import get, registered

FIXTURE_SUFFIXES = (".reward.json", ".reward.jsonl")


class FixtureError(RewardkitError):
    """A fixture file or record that cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class Expectation:
    score: float | None = None
    scores: tuple[float, ...] | None = None
    status: str | int | None = None
    error_code: str | None = None
    tolerance: float = 1e-6


@dataclass(frozen=True)
class FixtureCase:
    id: str
    reward: str | None
    contract: str  # the name of the registered contract the request belongs to
    request: dict[str, Any]
    expect: Expectation
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeio" else "a"


def detect_contract(body: Any, source: str = "FILE") -> str:
    """The name of the contract a request body belongs to; FixtureError says why when none.

    A training-data line (given without `--training`) is named as one, with the command for `source`."""
    # Not only objects: a contract's body may be a list (a batch); each contract says what it claims.
    for contract in registered():
        if contract.looks_like(body):
            return contract.name
    for contract in registered():
        if contract.dataset_key and isinstance(body, dict) and contract.dataset_key in body:
            raise FixtureError(
                f"this is a line of {contract.name} training data (it has {contract.dataset_key!r}), not a request "
                f"body: replay a training file with `rewardkit replay --training {source} --responses "
                "RESPONSES.jsonl` (or --response-field FIELD), which builds the requests the platform would send")
    expected = "; ".join(f"{_article(c.title)} {c.title} body {c.recognised_by}" for c in registered())
    got = f"keys: {', '.join(sorted(body)) or '(none)'}" if isinstance(body, dict) else f"got {type(body).__name__}"
    raise FixtureError(f"not a request body of any registered contract ({expected}); {got}")


def _expectation(raw: Any, where: str) -> Expectation:
    if not isinstance(raw, dict):
        raise FixtureError(f"{where}: 'expect' must be an object like {{\"score\": 1.0}}")
    unknown = set(raw) - {"score", "scores", "status", "error_code", "tolerance"}
    if unknown:
        raise FixtureError(f"{where}: unknown key(s) in 'expect': {', '.join(sorted(unknown))}")
    scores = raw.get("scores")
    return Expectation(
        score=raw.get("score"),
        scores=None if scores is None else tuple(scores),
        status=raw.get("status"),
        error_code=raw.get("error_code"),
        tolerance=float(raw.get("tolerance", 1e-6)),
    )


def case_from_record(record: Any, where: str, index: int, source: str = "FILE") -> FixtureCase:
    """A FixtureCase from a fixture record, or from a bare request body (no expectation)."""
    if isinstance(record, dict) and "request" in record:
        body = record["request"]
        expect = _expectation(record.get("expect", {}), where)
        name, reward = record.get("id"), record.get("reward")
        extra = {k: v for k, v in record.items() if k not in ("id", "reward", "request", "expect")}
    else:
        body, expect, name, reward, extra = record, Expectation(), None, None, {}
    try:
        contract = detect_contract(body, source)
    except FixtureError as exc:
        raise FixtureError(f"{where}: {exc}") from None
    return FixtureCase(str(name or f"{Path(where.split(':')[0]).name}#{index}"), reward, contract, body, expect, where,
                       extra)


def load_cases(path: str | Path) -> list[FixtureCase]:
    """Every case in a JSON or JSONL file (fixture records or bare request bodies)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FixtureError(f"{path}: cannot read: {exc.strerror}") from None
    if path.suffix == ".jsonl":
        records = []
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    records.append((f"{path}:{number}", json.loads(line)))
                except ValueError as exc:
                    raise FixtureError(f"{path}:{number}: not valid JSON: {exc}") from None
    else:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise FixtureError(f"{path}: not valid JSON: {exc}") from None
        items = data if isinstance(data, list) else [data]
        records = [(f"{path}:{i}" if isinstance(data, list) else str(path), item) for i, item in enumerate(items, 1)]
    return [case_from_record(record, where, i, str(path)) for i, (where, record) in enumerate(records, 1)]


def _close(a: float, b: float, tolerance: float) -> bool:
    return math.isclose(a, b, rel_tol=0.0, abs_tol=tolerance)


def check(case: FixtureCase, http_status: int, body: Any) -> list[str]:
    """What differs between the expectation and an answer; empty when it passes."""
    e = case.expect
    problems = []
    status = body.get("status") if isinstance(body, dict) else None
    if isinstance(e.status, int) and http_status != e.status:
        problems.append(f"HTTP status {http_status}, expected {e.status}")
    if isinstance(e.status, str) and status != e.status:
        problems.append(f"status {status!r}, expected {e.status!r}")
    answer = get(case.contract).read_answer(http_status, body)
    if e.error_code is not None and answer.error_code != e.error_code:
        problems.append(f"error_code {answer.error_code!r}, expected {e.error_code!r}")
    if e.score is None and e.scores is None:
        return problems
    if not answer.scores:
        problems.append(f"no score: HTTP {http_status}, {answer.reason}")
        return problems
    got = list(answer.scores)
    want = [e.score] if e.score is not None else list(e.scores or ())
    if len(got) != len(want) or not all(_close(g, w, e.tolerance) for g, w in zip(got, want, strict=True)):
        problems.append(f"scores {got}, expected {want} (tolerance {e.tolerance})")
    return problems
