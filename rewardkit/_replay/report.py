"""What `rewardkit replay` prints: the per-sample table, the summary (distribution, error codes, latency), progress."""

from __future__ import annotations

import json
import math
import shutil
import sys
from dataclasses import dataclass
from typing import Any, Sequence, TextIO

from .replay import REASON_CHARS, ReplayResult, describe_expectation


@dataclass(frozen=True)
class Bin:
    low: float
    high: float
    count: int


@dataclass(frozen=True)
class Summary:
    count: int  # cases replayed
    passed: int
    failed: int
    checked: int  # cases that carried an expectation
    scores: tuple[float, ...]  # every score received (a group gives several)
    histogram: tuple[Bin, ...]
    errors: dict[str, int]  # error code -> cases whose answer carried it (failures and fallbacks)
    p50_ms: float | None
    p95_ms: float | None

    @property
    def mean(self) -> float | None:
        return sum(self.scores) / len(self.scores) if self.scores else None

    @property
    def min(self) -> float | None:
        return min(self.scores) if self.scores else None

    @property
    def max(self) -> float | None:
        return max(self.scores) if self.scores else None

    def to_json(self) -> dict[str, Any]:
        return {
            "count": self.count, "passed": self.passed, "failed": self.failed, "checked": self.checked,
            "scores": len(self.scores), "mean": self.mean, "min": self.min, "max": self.max,
            "histogram": [{"low": b.low, "high": b.high, "count": b.count} for b in self.histogram],
            "errors": dict(self.errors), "latency_ms": {"p50": self.p50_ms, "p95": self.p95_ms},
        }


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least `fraction` of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def histogram(scores: Sequence[float], bins: int = 10) -> tuple[Bin, ...]:
    """Equal-width bins over the usual reward range ([0, 1] or [-1, 1]) when the scores fit it, else their span."""
    if not scores:
        return ()
    low, high = min(scores), max(scores)
    if low >= 0.0 and high <= 1.0:
        low, high = 0.0, 1.0
    elif low >= -1.0 and high <= 1.0:
        low, high = -1.0, 1.0
    if high == low:
        return (Bin(low, high, len(scores)),)
    width = (high - low) / bins
    counts = [0] * bins
    for score in scores:
        # The epsilon keeps 0.3 in [0.3, 0.4) despite 0.3 / 0.1 == 2.9999999999999996; the top edge is in the last bin.
        counts[min(int((score - low) / width + 1e-9), bins - 1)] += 1
    return tuple(Bin(round(low + i * width, 9), round(low + (i + 1) * width, 9), c) for i, c in enumerate(counts))


def summarize(results: Sequence[ReplayResult]) -> Summary:
    scores = tuple(s for r in results for s in r.answer.scores)
    errors: dict[str, int] = {}
    for r in results:
        if r.answer.error_code:
            errors[r.answer.error_code] = errors.get(r.answer.error_code, 0) + 1
    latencies = [r.latency * 1000 for r in results if r.status is not None]
    passed = sum(r.passed for r in results)
    return Summary(
        count=len(results), passed=passed, failed=len(results) - passed, checked=sum(r.checked for r in results),
        scores=scores, histogram=histogram(scores), errors=dict(sorted(errors.items(), key=lambda kv: (-kv[1], kv[0]))),
        p50_ms=percentile(latencies, 0.50), p95_ms=percentile(latencies, 0.95),
    )


# ---- output ----------------------------------------------------------------------

def _score_cell(result: ReplayResult) -> str:
    scores = result.answer.scores
    if not scores:
        return "-"
    if len(scores) == 1:
        return f"{scores[0]:.4g}"
    return "[" + ", ".join(f"{s:.3g}" for s in scores) + "]"


def _result_cell(result: ReplayResult) -> str:
    if not result.passed:
        return "FAIL"
    return "pass" if result.checked else "ok"


def _reason_cell(result: ReplayResult) -> str:
    if result.problems:
        text = "; ".join(result.problems)
    else:
        text = result.answer.reason or ""
        if result.answer.error_code:
            text = f"{result.answer.error_code}: {text}" if text else result.answer.error_code
    return " ".join(text.split())


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 3, 0)] + "..."


def format_table(results: Sequence[ReplayResult], width: int | None = None) -> str:
    """One row per case: id, reward (score), expected, result, latency, reason (cut to fit `width`, if given)."""
    header = ("ID", "REWARD", "EXPECTED", "RESULT", "MS", "REASON")
    rows = [(r.case.id, _score_cell(r), describe_expectation(r.case), _result_cell(r),
             "-" if r.status is None else f"{r.latency * 1000:.0f}", _reason_cell(r)) for r in results]
    caps = (40, 24, 24, 6, 7)
    widths = [min(max(len(header[i]), *(len(row[i]) for row in rows)) if rows else len(header[i]), caps[i])
              for i in range(5)]
    reason_width = max(width - sum(widths) - 2 * 5, 30) if width else REASON_CHARS

    def line(cells: Sequence[str]) -> str:
        fixed = [_fit(c, w).ljust(w) if i != 4 else _fit(c, w).rjust(w)
                 for i, (c, w) in enumerate(zip(cells[:5], widths, strict=True))]
        return "  ".join([*fixed, _fit(cells[5], reason_width)]).rstrip()

    return "\n".join([line(header), *(line(row) for row in rows)])


def format_summary(summary: Summary, results: Sequence[ReplayResult] = ()) -> str:
    """Counts, the reward distribution with a text histogram, error codes, latency, and where each failure is."""
    out = [f"{summary.count} cases: {summary.passed} passed, {summary.failed} failed "
           f"({summary.checked} with an expectation)"]
    if summary.scores:
        count = len(summary.scores)
        out.append(f"reward: mean {summary.mean:.4g}, min {summary.min:.4g}, max {summary.max:.4g} "
                   f"({count} score{'' if count == 1 else 's'})")
        peak = max(b.count for b in summary.histogram)
        for b in summary.histogram:
            bar = "#" * (round(30 * b.count / peak) if b.count else 0)
            out.append(f"  [{b.low:6.2f}, {b.high:6.2f}{']' if b is summary.histogram[-1] else ')'} "
                       f"{b.count:5d} {bar}".rstrip())
    else:
        out.append("reward: no scores")
    if summary.errors:
        out.append("errors: " + ", ".join(f"{code} x{n}" for code, n in summary.errors.items()))
    if summary.p50_ms is not None:
        out.append(f"latency: p50 {summary.p50_ms:.0f} ms, p95 {summary.p95_ms:.0f} ms")
    failed = [r for r in results if not r.passed]
    if failed:
        out.append("failures:")
        out.extend(f"  {r.case.source} {r.case.id}: {'; '.join(r.problems)}" for r in failed)
    return "\n".join(out)


def write_report(results: Sequence[ReplayResult], fmt: str, stream: TextIO) -> None:
    summary = summarize(results)
    if fmt == "json":
        json.dump({"results": [r.to_json() for r in results], "summary": summary.to_json()}, stream, indent=2)
        stream.write("\n")
    elif fmt == "jsonl":
        for r in results:
            stream.write(json.dumps(r.to_json(), ensure_ascii=False) + "\n")
        stream.write(json.dumps({"summary": summary.to_json()}) + "\n")
    else:
        # On a terminal the reasons are cut to its width; in a log or a file they are kept whole.
        width = shutil.get_terminal_size().columns if stream.isatty() else None
        stream.write(format_table(results, width) + "\n\n" + format_summary(summary, results) + "\n")


class Progress:
    """A one-line progress bar on a terminal; silent when the stream is not one (CI logs, pipes)."""

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.total = total
        self.stream = stream or sys.stderr
        self.enabled = total > 0 and self.stream.isatty()
        self.done = 0
        self.failed = 0
        self._width = 0

    def add(self, count: int) -> None:
        """More work than first announced (a run in several passes)."""
        self.total += count
        self.enabled = self.total > 0 and self.stream.isatty()

    def update(self, result: ReplayResult) -> None:
        self.done += 1
        self.failed += not result.passed
        if not self.enabled:
            return
        filled = round(30 * self.done / self.total)
        text = f"\r[{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total}"
        if self.failed:
            text += f", {self.failed} failed"
        self._width = max(self._width, len(text))
        self.stream.write(text)
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
