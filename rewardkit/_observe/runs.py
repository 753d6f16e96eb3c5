"""A recorded run, read once and summed as it is read: what `rewardkit report` draws.

The records are those `rewardkit serve --record` writes (rewardkit/_serving/record.py):
per sample, the reward's score or failure, its components, the step, the prompt
group, the response's length. Nothing keeps a record: per reward (and per
component) the run keeps its scores and lengths as packed arrays, counts per
step and per prompt group, the failures' times, and a few example responses per
score, so a million records fit in a few hundred MB (bench/report_bench.py).
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from pydantic_core import from_json

from .._errors import RewardkitError
from .._replay.replay import expand_paths
from .._serving.record import SUFFIX

EXAMPLES_PER_SCORE = 3  # example responses kept per distinct score (rounded) and per failure code
DISTINCT_SCORES = 400  # distinct scores that keep examples; past this, new ones are not kept
SCORE_DIGITS = 3  # scores equal to this many decimals share their examples
NO_STEP = -1  # the step of a record whose platform sent none


class RunError(RewardkitError):
    """A file that is not a recorded run; the message names the file and line."""


@dataclass(frozen=True)
class Example:
    score: float | None
    code: str | None  # the failure code, for a failed (or fallback-scored) sample
    reason: str
    response: str
    chars: int
    step: int
    where: str  # file:line


@dataclass
class StepCounts:
    samples: int = 0
    scored: int = 0
    total: float = 0.0
    failed: int = 0  # a failure code, with or without a fallback score

    @property
    def mean(self) -> float | None:
        return self.total / self.scored if self.scored else None


@dataclass
class Group:
    """The scored responses to one prompt at one step: do they differ?"""

    count: int = 0
    low: float = math.inf
    high: float = -math.inf

    def add(self, score: float) -> None:
        self.count += 1
        self.low = min(self.low, score)
        self.high = max(self.high, score)


@dataclass
class Series:
    """One reward, or one component of a composite (`composite/component`)."""

    name: str
    scores: array[float] = field(default_factory=lambda: array("d"))
    lengths: array[float] = field(default_factory=lambda: array("d"))  # response chars, one per score
    steps: dict[int, StepCounts] = field(default_factory=dict)
    groups: dict[tuple[int, str], Group] = field(default_factory=dict)
    failures: list[tuple[float, str]] = field(default_factory=list)  # (unix time, code)
    examples: dict[Any, list[Example]] = field(default_factory=dict)  # rounded score or "code" -> examples

    def add(self, outcome: dict[str, Any], sample: dict[str, Any], at: str, where: str) -> None:
        step = sample.get("step")
        step = step if isinstance(step, int) else NO_STEP
        counts = self.steps.get(step)
        if counts is None:
            counts = self.steps[step] = StepCounts()
        counts.samples += 1
        score = outcome.get("score")
        failure = outcome.get("failure") or None
        if not isinstance(score, (int, float)) and failure is None:  # an unscored outcome always has a failure
            failure = {"code": "NO_SCORE", "message": "no score and no failure recorded"}
        chars = sample.get("response_chars") or 0
        if isinstance(score, (int, float)):
            counts.scored += 1
            counts.total += score
            self.scores.append(score)
            self.lengths.append(chars)
            key = (step, sample.get("group") or where)
            group = self.groups.get(key)
            if group is None:
                group = self.groups[key] = Group()
            group.add(score)
        if failure is not None:
            counts.failed += 1
            self.failures.append((_seconds(at), failure.get("code", "?")))
        self._keep_example(score, failure, outcome, sample, chars, step, where)

    def _keep_example(self, score: Any, failure: dict[str, Any] | None, outcome: dict[str, Any],
                      sample: dict[str, Any], chars: int, step: int, where: str) -> None:
        scored = isinstance(score, (int, float))
        key: Any = round(score, SCORE_DIGITS) if scored else ("failed", (failure or {}).get("code"))
        kept = self.examples.get(key)
        if kept is None:
            if len(self.examples) >= DISTINCT_SCORES:
                return
            kept = self.examples[key] = []
        if len(kept) < EXAMPLES_PER_SCORE:
            reason = outcome.get("reason") or (failure or {}).get("message") or ""
            kept.append(Example(score, (failure or {}).get("code"), str(reason), str(sample.get("response", "")),
                                chars, step, where))

    @property
    def zero_variance(self) -> dict[int, tuple[int, int]]:
        """Per step: (groups of 2+ scored responses that all scored the same, groups of 2+)."""
        out: dict[int, list[int]] = {}
        for (step, _), group in self.groups.items():
            if group.count >= 2:
                counts = out.setdefault(step, [0, 0])
                counts[0] += group.low == group.high
                counts[1] += 1
        return {step: (same, total) for step, (same, total) in sorted(out.items())}

    @property
    def length_correlation(self) -> float | None:
        """Pearson's r of score against response length; None when either does not vary."""
        return pearson(self.lengths, self.scores)


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    n = len(xs)
    if n < 2:
        return None
    mean_x, mean_y = math.fsum(xs) / n, math.fsum(ys) / n
    sxx = math.fsum((x - mean_x) ** 2 for x in xs)
    syy = math.fsum((y - mean_y) ** 2 for y in ys)
    if sxx == 0 or syy == 0:
        return None
    return math.fsum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / math.sqrt(sxx * syy)


def _seconds(at: str) -> float:
    try:
        return datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return math.nan


@dataclass
class Run:
    """Every recorded request of the files given."""

    files: list[str] = field(default_factory=list)
    records: int = 0
    series: dict[str, Series] = field(default_factory=dict)
    latency_ms: dict[str, array[float]] = field(default_factory=dict)  # per reward, one per request
    first: str = ""  # the earliest and latest `at` (ISO strings of one format compare as times)
    last: str = ""

    def _series(self, name: str) -> Series:
        found = self.series.get(name)
        if found is None:
            found = self.series[name] = Series(name)
        return found

    def add(self, record: dict[str, Any], where: str) -> None:
        recorded = record["recorded"]
        at = str(recorded.get("at", ""))
        if at and (not self.first or at < self.first):
            self.first = at
        if at > self.last:
            self.last = at
        reward = str(record.get("reward"))
        self.records += 1
        latency = self.latency_ms.get(reward)
        if latency is None:
            latency = self.latency_ms[reward] = array("d")
        latency.append(float(recorded.get("latency_ms", math.nan)))
        for sample in recorded.get("samples") or ():
            name = str(sample.get("reward") or reward)
            self._series(name).add(sample, sample, at, where)
            for component, outcome in (sample.get("components") or {}).items():
                self._series(f"{name}/{component}").add(outcome, sample, at, where)


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    try:
        with open(path, encoding="utf-8") as stream:
            yield from enumerate(stream, 1)
    except OSError as exc:
        raise RunError(f"{path}: cannot read: {exc.strerror}") from None


def read_run(paths: Iterable[str | Path]) -> Run:
    """The run of every record in the files; RunError at the first line that is not a record."""
    run = Run()
    for path in expand_paths(paths, (SUFFIX,), "record files"):
        run.files.append(str(path))
        for number, line in _lines(path):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                record = from_json(line)
            except ValueError as exc:
                raise RunError(f"{where}: not valid JSON: {exc}") from None
            if not isinstance(record, dict) or not isinstance(record.get("recorded"), dict):
                raise RunError(f"{where}: not a recorded request (no 'recorded' object): `rewardkit serve --record "
                               "DEST` writes them")
            run.add(record, where)
    if not run.records:
        raise RunError("no recorded requests in " + ", ".join(run.files))
    return run
