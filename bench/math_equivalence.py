"""Compare rewardkit's ``answers_equivalent`` with plain math-verify on the labelled answer set.

Usage (from the repository root):

    python bench/math_equivalence.py [--data tests/data/math_equivalence.jsonl] [--show-errors]

Prints accuracy, false-positive rate (wrong answers accepted / all wrong answers) and
false-negative rate (right answers rejected / all right answers) for both graders, then the
errors of each grader per category.

Baseline ("plain math-verify"): ``verify(parse(f"${gold}$"), parse(f"${answer}$"))`` with
math-verify's default extraction configs and timeouts. The strings are wrapped in ``$...$``
because that is what plain users do with a bare extracted answer (open-r1's accuracy reward
and math-verify's README parse LaTeX inside math delimiters); unwrapped strings make
math-verify fall back to its plain-expression extractor and score lower on this set (the
``plain math-verify, unwrapped`` column shows that too).

Labels are what a careful human grader says under the policy documented in
``rewards/_equivalence.py`` with its defaults (``percent_as_fraction=True``). The set was written
alongside that module, so read rewardkit's column as a regression check rather than an
independent estimate; the baseline columns show where plain math-verify disagrees with a human.

Runs in the main thread: math-verify's timeouts use ``signal.alarm``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT / "tests" / "data" / "math_equivalence.jsonl"


@dataclass(frozen=True)
class Case:
    gold: str
    answer: str
    equivalent: bool
    category: str
    note: str = ""


@dataclass
class Metrics:
    """Confusion counts of one grader on the labelled set."""

    name: str
    true_pos: int = 0
    true_neg: int = 0
    false_pos: int = 0
    false_neg: int = 0
    seconds: float = 0.0
    errors: list[tuple[Case, bool]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.true_pos + self.true_neg + self.false_pos + self.false_neg

    @property
    def accuracy(self) -> float:
        return (self.true_pos + self.true_neg) / self.total

    @property
    def false_positive_rate(self) -> float:
        negatives = self.true_neg + self.false_pos
        return self.false_pos / negatives if negatives else 0.0

    @property
    def false_negative_rate(self) -> float:
        positives = self.true_pos + self.false_neg
        return self.false_neg / positives if positives else 0.0

    def errors_by_category(self) -> Counter[str]:
        return Counter(case.category for case, _ in self.errors)


def load_cases(path: Path = DEFAULT_DATA) -> list[Case]:
    """The labelled set, one JSON object per line."""
    with open(path, encoding="utf-8") as handle:
        return [Case(**json.loads(line)) for line in handle if line.strip()]


def plain_math_verify(gold: str, answer: str) -> bool:
    """What a plain math-verify user computes for an extracted answer (``$``-wrapped)."""
    from math_verify import parse, verify

    return verify(parse(f"${gold}$"), parse(f"${answer}$"))


def plain_math_verify_unwrapped(gold: str, answer: str) -> bool:
    """Plain math-verify on the bare strings, no ``$`` delimiters."""
    from math_verify import parse, verify

    return verify(parse(gold), parse(answer))


def rewardkit_equivalent(gold: str, answer: str) -> bool:
    """rewardkit's grader: ``answers_equivalent`` with its defaults."""
    from rewards._equivalence import answers_equivalent

    return answers_equivalent(gold, answer).equivalent


def evaluate(name: str, grader: Callable[[str, str], bool], cases: Iterable[Case]) -> Metrics:
    """Run ``grader`` on every case and count agreements with the labels."""
    metrics = Metrics(name)
    start = time.perf_counter()
    for case in cases:
        predicted = grader(case.gold, case.answer)
        if predicted and case.equivalent:
            metrics.true_pos += 1
        elif not predicted and not case.equivalent:
            metrics.true_neg += 1
        else:
            metrics.false_pos += predicted
            metrics.false_neg += not predicted
            metrics.errors.append((case, predicted))
    metrics.seconds = time.perf_counter() - start
    return metrics


def _table(results: list[Metrics]) -> str:
    header = f"{'metric':<22}" + "".join(f"{m.name:>30}" for m in results)
    rows = [
        ("accuracy", lambda m: f"{m.accuracy:.1%}"),
        ("false-positive rate", lambda m: f"{m.false_positive_rate:.1%} ({m.false_pos})"),
        ("false-negative rate", lambda m: f"{m.false_negative_rate:.1%} ({m.false_neg})"),
        ("errors", lambda m: str(len(m.errors))),
        ("seconds", lambda m: f"{m.seconds:.1f}"),
    ]
    lines = [header] + [f"{label:<22}" + "".join(f"{cell(m):>30}" for m in results) for label, cell in rows]
    return "\n".join(lines)


def _category_table(results: list[Metrics], cases: list[Case]) -> str:
    sizes = Counter(case.category for case in cases)
    header = f"{'category (n)':<22}" + "".join(f"{m.name:>30}" for m in results)
    lines = [header]
    for category in sorted(sizes):
        cells = "".join(f"{m.errors_by_category()[category]:>30}" for m in results)
        lines.append(f"{category + f' ({sizes[category]})':<22}{cells}")
    return "\n".join(lines)


def _error_list(metrics: Metrics) -> str:
    lines = [f"errors of {metrics.name}:"]
    for case, predicted in metrics.errors:
        kind = "FP" if predicted else "FN"
        lines.append(f"  {kind} [{case.category}] gold={case.gold!r} answer={case.answer!r} {case.note}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="labelled JSONL set")
    parser.add_argument("--show-errors", action="store_true", help="list every misclassified pair")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    cases = load_cases(args.data)
    plain_math_verify("1", "1")  # pay sympy's and math-verify's import time before timing
    positives = sum(case.equivalent for case in cases)
    print(f"{len(cases)} labelled pairs ({positives} equivalent, {len(cases) - positives} not) from {args.data}\n")
    results = [
        evaluate("rewardkit answers_equivalent", rewardkit_equivalent, cases),
        evaluate("plain math-verify ($-wrapped)", plain_math_verify, cases),
        evaluate("plain math-verify, unwrapped", plain_math_verify_unwrapped, cases),
    ]
    print(_table(results))
    print("\nerrors per category")
    print(_category_table(results, cases))
    if args.show_errors:
        for metrics in results[:2]:
            print("\n" + _error_list(metrics))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
